"""Dialog manager: answers from a knowledge base, qualifies the caller, stays compliant.

Public API (see docs/dialog.md): :class:`DialogManager` with :meth:`~DialogManager.opening`,
:meth:`~DialogManager.respond`, :meth:`~DialogManager.no_input` and
:meth:`~DialogManager.interrupt`; :func:`load_kb`; the :class:`Reply` / :class:`Segment`
records; :class:`DncList` (the do-not-call list).
"""

from tierline.agent.dialog.compliance import DncList
from tierline.agent.dialog.kb import KnowledgeBase, load_kb
from tierline.agent.dialog.manager import DialogConfig, DialogManager
from tierline.agent.dialog.reply import Reply, Segment
from tierline.agent.dialog.yamlfile import KbError

__all__ = ["DialogConfig", "DialogManager", "DncList", "KbError", "KnowledgeBase", "Reply",
           "Segment", "load_kb"]
