// The TypeScript @anthropic-ai/foundry-sdk against a stack, configured only by the environment that
// `claude-foundry env` printed (ANTHROPIC_FOUNDRY_BASE_URL, ANTHROPIC_FOUNDRY_API_KEY, NODE_EXTRA_CA_CERTS, and the
// deployment names in ANTHROPIC_DEFAULT_*_MODEL). Prints one JSON object of results; never the key.
import { createRequire } from 'node:module';

const require = createRequire(process.env.FOUNDRY_SDK_REQUIRE_FROM);
const { AnthropicFoundry } = require('@anthropic-ai/foundry-sdk');

const client = new AnthropicFoundry({ maxRetries: 0 });
const model = process.env.ANTHROPIC_DEFAULT_SONNET_MODEL;
const messages = [{ role: 'user', content: 'Say hi' }];
const out = {};

const created = await client.messages.create({ model, max_tokens: 64, messages });
out.create = { model: created.model, stop_reason: created.stop_reason, type: created.content[0].type,
               text: created.content[0].text, output_tokens: created.usage.output_tokens };

const stream = client.messages.stream({ model, max_tokens: 64, messages });
const events = [];
stream.on('streamEvent', (e) => events.push(e.type));
let streamed = '';
stream.on('text', (t) => { streamed += t; });
const final = await stream.finalMessage();
out.stream = { events, text: streamed, final_text: final.content[0].text, stop_reason: final.stop_reason };

const tools = [{ name: 'get_weather', description: 'Weather for a city',
                 input_schema: { type: 'object', required: ['city', 'unit'],
                                 properties: { city: { type: 'string', minLength: 2 },
                                               unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
                                               days: { type: 'integer', minimum: 1, maximum: 7 } } } }];
const forced = await client.messages.create({ model, max_tokens: 256, messages, tools,
                                              tool_choice: { type: 'tool', name: 'get_weather' } });
out.forced_tool = { stop_reason: forced.stop_reason, content: forced.content };

const forcedStream = client.messages.stream({ model, max_tokens: 256, messages, tools,
                                              tool_choice: { type: 'any' } });
const forcedFinal = await forcedStream.finalMessage();
out.forced_tool_stream = { stop_reason: forcedFinal.stop_reason, content: forcedFinal.content };

const counted = await client.messages.countTokens({ model, messages });
out.count_tokens = counted;

try {
  await client.messages.create({ model: 'no-such-deployment', max_tokens: 8, messages });
  out.unknown_deployment = { status: 200 };
} catch (err) {
  out.unknown_deployment = { status: err.status, name: err.constructor.name,
                             request_id: err.requestID ?? null, body: err.error ?? null };  // the API's body, not the SDK's wording
}
process.stdout.write(JSON.stringify(out));
