"""Local rehearsal of a deploy: apply the Pulumi program's resource graph to the sandbox's ARM.

The program is not described twice: :func:`claude_foundry.program._plan.plan` runs the real components under Pulumi
mocks; every registered resource carries its ARM id, API version and request body (``armmap``). This
module PUTs those bodies through the Azure SDK (``ResourceManagementClient.resources``, the same generic
path the Pulumi generic resource takes), in dependency order: resources whose dependencies are done run
concurrently, so the deployments of one account (chained in the program) go one after another and
independent accounts go in parallel. A failed resource stops its dependants and leaves what succeeded in
place; a re-run resumes. Like Pulumi, it keeps a small state file (a hash of what it last applied per
resource id) so an unchanged second run changes nothing.

This is a rehearsal against the local sandbox. ``pulumi up`` against Azure is the real path.
"""

from claude_foundry._rehearse.apply import (
    Applier,
    LocalDeploy,
    apply_steps,
    destroy_steps,
    down_local,
    purge_soft_deleted,
    state_file,
    up_local,
)
from claude_foundry._rehearse.graph import (
    ABSENT,
    CREATE,
    DELETED,
    FAILED,
    KEPT,
    SAME,
    SKIPPED,
    UPDATE,
    ApplyResult,
    Step,
    StepResult,
    deletion_order,
    run_graph,
    steps_from_plan,
)
from claude_foundry._rehearse.state import DeployState, body_digest

__all__ = ["ABSENT", "CREATE", "DELETED", "FAILED", "KEPT", "SAME", "SKIPPED", "UPDATE", "Applier", "ApplyResult",
           "DeployState", "LocalDeploy", "Step", "StepResult", "apply_steps", "body_digest", "deletion_order",
           "destroy_steps", "down_local", "purge_soft_deleted", "run_graph", "state_file", "steps_from_plan",
           "up_local"]
