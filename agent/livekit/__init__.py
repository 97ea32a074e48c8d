"""Tierline on livekit-agents: plugins, the agent, the worker, SIP telephony, offline file I/O.

- :mod:`.vad`, :mod:`.stt`, :mod:`.tts`: livekit plugins over our endpointer, Whisper, espeak-ng.
- :mod:`.agent`: ``TierlineAgent`` (decides in ``on_user_turn_completed``).
- :mod:`.audio_io`: file input and recording output (sessions without a server).
- :mod:`.call`: the AgentSession of one call; a recorded call through it.
- :mod:`.worker`: the AgentServer (live and offline) and its set-up function.
- :mod:`.telephony`: trunks, dispatch rule, outbound dial, transfers via livekit-api.
- :mod:`.config`: the TOML configuration (samples/livekit.toml).
"""
