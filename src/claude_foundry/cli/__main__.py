import sys

from claude_foundry.cli import main

sys.exit(main())
