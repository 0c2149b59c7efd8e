"""How much one client may make the local Realtime server hold: each bound named, with where its
number comes from (the real service's documented limit where there is one)."""

from __future__ import annotations

from lib.emulators.realtime.model import BYTES_PER_MS
from lib.emulators.realtime.usage import CHARS_PER_TOKEN

# Open Realtime sessions per server: the app opens one per conversation (the soak bench runs 4);
# production allowed ~100 per organisation at launch. Each session with audio holds a ~10 MB
# VAD stream and up to one maximal turn (below), so 16 bound a flood near 1 GB.
MAX_SESSIONS = 16
# input_audio_buffer.append: "up to a maximum of 15 MiB" of audio per event (API reference).
MAX_APPEND_AUDIO_BYTES = 15 * 1024 * 1024
# What one turn may buffer before it is committed (push-to-talk) or VAD ends it: 15 minutes of
# PCM16 24 kHz mono, 43.2 MB. Not documented; far beyond any spoken turn. It is also the most
# input audio a session holds at once (buffered + committed but not yet transcribed).
MAX_TURN_AUDIO_MS = 15 * 60 * 1000
MAX_TURN_AUDIO_BYTES = MAX_TURN_AUDIO_MS * BYTES_PER_MS
# One text (instructions, a message, a tool output or prompt): at most the model's whole context
# window (gpt-realtime: 32,768 tokens) at ~4 characters a token.
MAX_TEXT_CHARS = 32_768 * CHARS_PER_TOKEN
# The conversation: a 60-minute session of speech both ways is ~100k characters and a few
# hundred items; these are ten times that. Delete items (or reconnect) to go on past them.
MAX_CONVERSATION_ITEMS = 4096
MAX_CONVERSATION_CHARS = 1024 * 1024
# Ids a client may choose (item ids are up to 32 characters on the real API); event ids are
# only echoed back in errors.
MAX_ITEM_ID_CHARS = 32
MAX_EVENT_ID_CHARS = 512
# Short names: a voice, a model, a function name (OpenAI: up to 64 characters), call ids.
MAX_NAME_CHARS = 64
MAX_CALL_ID_CHARS = 512
# Tools: Chat Completions takes up to 128 functions; a description is up to 1024 characters
# (the Realtime API's `string_above_max_length` for session.tools[i].description).
MAX_TOOLS = 128
MAX_TOOL_DESCRIPTION_CHARS = 1024
# Content parts in one message: no documented limit; a message is one or two parts in practice.
MAX_CONTENT_PARTS = 64
# response.create metadata: "Set of 16 key-value pairs", keys up to 64 and values up to 512
# characters (API reference).
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512
# max_output_tokens: "an integer between 1 and 4096 … or inf" (API reference).
MAX_OUTPUT_TOKENS = 4096
# Spoken output: assistant audio costs 20 tokens a second (usage.py), so 4096 output tokens are
# 204.8 s of speech; the speaker says ~15 characters a second at normal speed.
SPOKEN_CHARS_PER_S = 15
# audio.output.speed: "0.25 is the minimum speed. 1.5 is the maximum speed." (API reference).
MIN_SPEED, MAX_SPEED = 0.25, 1.5
# turn_detection durations: not documented; semantic_vad's longest wait is 8 s ("low").
MAX_VAD_MS = 10_000
# idle_timeout_ms: at most the session's 60-minute lifetime.
MAX_IDLE_TIMEOUT_MS = 60 * 60 * 1000
# JSON nesting of one event or request body: a tool's JSON schema nests ~2 levels per schema
# level and OpenAI allows 10 schema levels; 64 is well above any real payload.
MAX_JSON_DEPTH = 64
# Scripted personas kept ready (one per instructions' persona and question list).
MAX_CACHED_RESPONDERS = 32
