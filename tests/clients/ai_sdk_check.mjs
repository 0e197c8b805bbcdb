// The Vercel AI SDK (ai + @ai-sdk/anthropic) against a stack, configured only by what `claude-foundry env` printed:
// CLAUDE_FOUNDRY_BASE_URL (+ '/v1': the provider appends /messages), the deployment in ANTHROPIC_DEFAULT_SONNET_MODEL,
// the key in ANTHROPIC_FOUNDRY_API_KEY, or an Entra ID token in FOUNDRY_TEST_ENTRA_TOKEN (the test's stand-in for
// a token the app gets from @azure/identity). Prints one JSON object of results; never the key or the token.
import { createRequire } from 'node:module';

const require = createRequire(process.env.AI_SDK_REQUIRE_FROM);
const { createAnthropic } = require('@ai-sdk/anthropic');
const { generateText, streamText } = require('ai');

const baseURL = process.env.CLAUDE_FOUNDRY_BASE_URL + '/v1';
const token = process.env.FOUNDRY_TEST_ENTRA_TOKEN;
const anthropic = token
  ? createAnthropic({ baseURL, authToken: async () => token })
  : createAnthropic({ baseURL, apiKey: process.env.ANTHROPIC_FOUNDRY_API_KEY });
const model = anthropic(process.env.ANTHROPIC_DEFAULT_SONNET_MODEL);
const out = {};
try {
  const r = await generateText({ model, prompt: 'Say hi', maxOutputTokens: 64, maxRetries: 0 });
  out.generate = { text: r.text, finishReason: r.finishReason, model: r.response?.modelId ?? null };
  const s = streamText({ model, prompt: 'Say hi', maxOutputTokens: 64, maxRetries: 0 });
  let streamed = '';
  for await (const t of s.textStream) streamed += t;
  out.stream = { text: streamed };
} catch (err) {
  out.error = { name: err?.constructor?.name ?? 'Error', status: err?.statusCode ?? null };
}
process.stdout.write(JSON.stringify(out));
