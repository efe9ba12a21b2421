"""The parts of `send-events`, one concern per module.

- `inputs`: command-line values turned into choices (source and event-type mixes, items).
- `traffic`: the generated sessions of events, deterministic for a seed.
- `recommendations`: real recommendation ids and impressions from GetRecommendations.
- `validation`: each PutEvents request checked against botocore's service model.
- `rate_limit`: pacing to at most N events in any one-second window.
- `sender`: PutEvents calls with retries and backoff.
- `summary`: what was sent, failed or not attempted, as text or JSON.
- `options`: the options as tables, and the checks of their values.
- `cli`: the command line (`python -m tools.send_events`, `python -m tools send-events`).
"""
