"""Dialog manager: answers from a knowledge base, qualifies the caller, stays compliant.

Public API: :class:`~tierline.agent.dialog.reply.Reply` and
:class:`~tierline.agent.dialog.reply.Segment` (what the bot says). See docs/dialog.md.
"""

from tierline.agent.dialog.reply import Reply, Segment

__all__ = ["Reply", "Segment"]
