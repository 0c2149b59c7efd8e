// LiveAvatar's published web SDK (@heygen/liveavatar-web-sdk, pinned in package.json) against
// a LiveAvatar server: `node drive.mjs` with LA_API_URL, LA_LITE_TOKEN, LA_FULL_TOKEN and
// LA_BAD_TOKEN set. Prints one JSON object: what the SDK read, did and raised.
//
// Only the network edge is adapted, no SDK code is replaced:
// * node has no browser globals: `ws` stands in for WebSocket, and an empty RTCPeerConnection
//   class answers livekit-client's feature check in the session constructor;
// * `/v1/sessions/start` answers reach the SDK without livekit_url / livekit_client_token, so
//   start() takes its own no-room branch: the embedded server's room is not a LiveKit SFU.
//   Every request and its HTTP status are recorded.
import { WebSocket } from "ws";

globalThis.WebSocket ??= WebSocket;
globalThis.RTCPeerConnection ??= class RTCPeerConnection {};

const { LiveAvatarSession, AgentEventsEnum, SessionEvent } = await import(
  "@heygen/liveavatar-web-sdk"
);

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const apiUrl = env("LA_API_URL");
const requests = [];
const nodeFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = String(input);
  const record = { path: new URL(url).pathname, method: init.method, status: null };
  requests.push(record);
  const res = await nodeFetch(input, init);
  record.status = res.status;
  if (!url.endsWith("/v1/sessions/start") || !res.ok) return res;
  const body = await res.json();
  if (body?.data) {
    delete body.data.livekit_url;
    delete body.data.livekit_client_token;
  }
  return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
};

// keepAlive() and the stop after a failed start() do not await their call: refusals land here.
const unhandled = [];
process.on("unhandledRejection", (e) => unhandled.push(errorOf(e)));

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function errorOf(e) {
  return { class: e?.constructor?.name, message: e?.message, errorCode: e?.errorCode, status: e?.status };
}
async function until(predicate, ms, what) {
  const began = now();
  while (!predicate()) {
    if (now() - began > ms) throw new Error(`no ${what} within ${ms} ms`);
    await sleep(5);
  }
}
function sinePcm16Base64(seconds) {
  const samples = Math.round(24000 * seconds);
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / 24000)), i * 2);
  }
  return pcm.toString("base64");
}

const out = { modes: {}, lite: {}, full: {}, refused: null, unhandled };

for (const [name, token] of Object.entries({
  lite: env("LA_LITE_TOKEN"),
  full: env("LA_FULL_TOKEN"),
  ...(process.env.LA_CONNECTOR_TOKEN ? { connector: process.env.LA_CONNECTOR_TOKEN } : {}),
})) {
  const session = new LiveAvatarSession(token, { apiUrl });
  out.modes[name] = { mode: session.mode, agentType: session.agentType };
}

{
  const lite = out.lite;
  const session = new LiveAvatarSession(env("LA_LITE_TOKEN"), { apiUrl });
  const speech = [];
  session.on(AgentEventsEnum.AVATAR_SPEAK_STARTED, () => speech.push(["started", now()]));
  session.on(AgentEventsEnum.AVATAR_SPEAK_ENDED, () => speech.push(["ended", now()]));
  session.on(SessionEvent.SESSION_DISCONNECTED, (reason) => (lite.disconnected = reason));
  await session.start();
  lite.state_after_start = session.state;
  lite.session_id = session.sessionId;

  const before = requests.length;
  await session.keepAlive();
  await until(() => requests.length > before && requests.at(-1).status !== null, 5000, "keep-alive");
  lite.keep_alive = requests.at(-1);

  // A 1.5 s reply: one speaking span, as long as the audio.
  let sent = now();
  session.repeatAudio(sinePcm16Base64(1.5));
  await until(() => speech.some(([kind]) => kind === "ended"), 10000, "speak_ended");
  lite.reply = {
    events: speech.map(([kind]) => kind),
    started_after_ms: speech[0][1] - sent,
    spoken_ms: speech.at(-1)[1] - speech[0][1],
  };

  // A 3 s reply cut short 0.3 s after the avatar starts speaking it.
  speech.length = 0;
  session.repeatAudio(sinePcm16Base64(3));
  await until(() => speech.length > 0, 10000, "speak_started");
  await sleep(300);
  sent = now();
  session.interrupt();
  await until(() => speech.some(([kind]) => kind === "ended"), 5000, "speak_ended after interrupt");
  lite.interrupt = { events: speech.map(([kind]) => kind), ended_after_ms: speech.at(-1)[1] - sent };

  session.startListening();
  session.stopListening();
  const stopAt = requests.length;
  await session.stop();
  lite.state_after_stop = session.state;
  await until(() => requests.length > stopAt && requests.at(-1).status !== null, 5000, "stop");
  lite.stop = requests.at(-1);
}

{
  const session = new LiveAvatarSession(env("LA_FULL_TOKEN"), { apiUrl });
  await session.start();
  out.full.state_after_start = session.state;
  out.full.session_id = session.sessionId;
  const stopAt = requests.length;
  await session.stop();
  await until(() => requests.length > stopAt && requests.at(-1).status !== null, 5000, "stop");
  out.full.stop = requests.at(-1);
}

{
  const session = new LiveAvatarSession(env("LA_BAD_TOKEN"), { apiUrl });
  try {
    await session.start();
  } catch (e) {
    out.refused = { ...errorOf(e), state: session.state };
  }
  await sleep(300); // its cleanup's stop call, refused too, arrives as an unhandled rejection
}

out.requests = requests;
console.log(JSON.stringify(out));
process.exit(0);
