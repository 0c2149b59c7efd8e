"""The bridge: the voice model's answer, chunked and timed, spoken by the avatar."""
