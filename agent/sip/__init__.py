"""The built-in SIP endpoint: answers and places phone calls over SIP/RTP without LiveKit.

One asyncio UDP user agent (UAS and UAC) speaks SIP (RFC 3261) with SDP offer/answer
(RFC 3264) for G.711 PCMA/PCMU at 8 kHz and telephone-event DTMF (RFC 4733). Every call runs
the pipeline `tierline replay` runs (one :class:`~tierline.agent.session.CallSession` per call)
and speaks the bot's prompts back over RTP. Modules, bottom up:

* :mod:`.message` — SIP message parsing and building;
* :mod:`.sdp` — offer/answer and codec choice;
* :mod:`.rtp` — RTP packets, RFC 4733 events, the jitter buffer;
* :mod:`.transactions` — client retransmission (Timers A/B, E/F) and server de-duplication;
* :mod:`.ua` — the UDP user agent: transactions, dialogs, requests in and out;
* :mod:`.media` — one call's RTP leg: 20 ms clock, receive, send, record;
* :mod:`.pipeline` — the call's decision thread (endpointer, barge-in, CallSession);
* :mod:`.call` — one call from INVITE to BYE: prompts, DTMF, transfers, the record;
* :mod:`.transfer` — REFER (blind) and bridged (B2BUA) transfers;
* :mod:`.recording` — per-call caller/bot WAV tracks and their retention;
* :mod:`.config` — the sip.toml file;
* :mod:`.server` — `tierline sip serve` and `tierline sip call`.
"""
