"""When a caller asks to be called back: a spoken time, relative to the call's time.

:func:`parse_when` reads the first time expression of a turn and resolves it against ``now``
(the moment of the call):

- offsets: 半小时后, 过二十分钟, 一个钟头以后, 两天后; vague ones are approximate: 一会儿 /
  等会儿 / 待会儿 / 稍后 (+30 minutes), 晚点 / 晚些时候 (+2 hours);
- days: 今天, 今晚, 明天 (明早, 明晚), 后天, 大后天, 下周一 / 下星期三 / 下礼拜五 (the week after
  this Monday-to-Sunday week), 这周五 / 本周五, 周五 / 星期五 (the next one to come), 下周
  (next Monday), 15号 (this month, or the next when it is past);
- parts of the day: 早上 09:00, 上午 10:00, 中午 12:00, 下午 15:00, 傍晚 18:00, 晚上 19:00;
- clock times: 三点, 3点半, 两点一刻, 十点二十, 10:30; with 下午 / 晚上 an hour below 12 is
  afternoon, and without a part of the day an hour from 1 to 7 is afternoon (nobody asks
  for a call at 3 a.m.); 四点以后 is four o'clock.

A day without a clock time gets its part of the day's hour, or 10:00, and is approximate; a
clock time or a part of the day without a day is today, or tomorrow when it has passed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from tierline.nlu.numerals import parse_number

__all__ = ["When", "parse_when"]

_NUM = r"[0-9零〇一二两三四五六七八九十]+"
_OFFSET = re.compile(
    rf"(?:(?:再?过)\s*)?(?P<n>{_NUM}|半)\s*(?:个)?\s*(?P<half>半)?\s*"
    r"(?P<unit>小时|钟头|分钟|分|天|周|星期|礼拜)(?P<after>以后|之后|后|过后)?")
_VAGUE = {"一会儿": 30, "一会": 30, "等会儿": 30, "等会": 30, "待会儿": 30, "待会": 30,
          "过会儿": 30, "过一会儿": 30, "稍后": 30, "等一下": 30, "晚点": 120, "晚一点": 120,
          "晚些时候": 120, "晚些": 120, "迟点": 120, "迟些": 120}
_VAGUE_RE = re.compile("|".join(sorted(map(re.escape, _VAGUE), key=len, reverse=True)))
_DAY_WORDS = {"今天": 0, "今日": 0, "今晚": 0, "明天": 1, "明日": 1, "明早": 1, "明晚": 1,
              "听日": 1, "后天": 2, "大后天": 3}
_DAY_PERIOD = {"今晚": "晚上", "明晚": "晚上", "明早": "早上"}
_DAY_RE = re.compile("大后天|" + "|".join(sorted(_DAY_WORDS, key=len, reverse=True)))
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_WEEK_RE = re.compile(r"(?P<which>下下|下个?|这个?|本)?(?:周|星期|礼拜)"
                      r"(?P<d>[一二三四五六日天1-7])?")
_DATE_RE = re.compile(rf"(?P<d>{_NUM})\s*[号日](?![子本])")
_PERIODS = {"凌晨": 6, "早上": 9, "早晨": 9, "上午": 10, "中午": 12, "晌午": 12, "下午": 15,
            "傍晚": 18, "晚上": 19, "夜里": 20}
_PERIOD_RE = re.compile("|".join(_PERIODS))
_CLOCK_RE = re.compile(
    rf"(?P<h>{_NUM})\s*(?:点钟?|:|：)\s*(?:(?P<half>半)|(?P<q>一刻|三刻)|(?P<m>{_NUM})\s*分?)?")


@dataclass(frozen=True)
class When:
    """A callback time.

    Attributes:
        at: The resolved time (naive, in the call's local time).
        said: The words it was read from.
        exact: False for a vague or partial time (晚点, 明天, 下午).
    """

    at: dt.datetime
    said: str
    exact: bool = True

    def to_dict(self) -> dict[str, str | bool]:
        return {"at": self.at.isoformat(timespec="minutes"), "said": self.said,
                "exact": self.exact}


def _num(s: str) -> int | None:
    v = parse_number(s)
    return int(v) if v is not None and float(v).is_integer() else None


def _offset(text: str, now: dt.datetime) -> tuple[dt.datetime, re.Match, bool] | None:
    for m in _OFFSET.finditer(text):
        prefixed = m.group(0).startswith(("过", "再过"))
        if not (m.group("after") or prefixed):
            continue
        n = 0.5 if m.group("n") == "半" else _num(m.group("n"))
        if n is None:
            continue
        n += 0.5 if m.group("half") else 0
        unit = m.group("unit")
        minutes = {"小时": 60, "钟头": 60, "分钟": 1, "分": 1, "天": 1440, "周": 10080,
                   "星期": 10080, "礼拜": 10080}[unit]
        return now + dt.timedelta(minutes=n * minutes), m, unit not in ("天", "周", "星期", "礼拜")
    return None


def _day(text: str, now: dt.datetime) -> tuple[dt.date, re.Match | None, str | None] | None:
    m = _DAY_RE.search(text)
    if m:
        word = m.group(0)
        return now.date() + dt.timedelta(days=_DAY_WORDS[word]), m, _DAY_PERIOD.get(word)
    for w in _WEEK_RE.finditer(text):
        which, d = w.group("which") or "", w.group("d")
        if d is None and not which.startswith("下"):
            continue  # 这周 / 周末 alone: no day named
        monday = now.date() - dt.timedelta(days=now.weekday())
        if d is None:
            return monday + dt.timedelta(days=7 * which.count("下")), w, None
        day = _WEEKDAY[d]
        if which.startswith("下"):
            return monday + dt.timedelta(days=7 * which.count("下") + day), w, None
        target = monday + dt.timedelta(days=day)
        if target < now.date():  # 周一 / 这周一 said after Monday: the coming one
            target += dt.timedelta(days=7)
        return target, w, None
    m = _DATE_RE.search(text)
    if m:
        day = _num(m.group("d"))
        if day and 1 <= day <= 31:
            year, month = now.year, now.month
            for _ in range(3):
                try:
                    date = dt.date(year, month, day)
                except ValueError:
                    date = None
                if date is not None and date >= now.date():
                    return date, m, None
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _afternoon(hour: int, period: str | None) -> bool:
    """Whether a 12-hour ``hour`` said with ``period`` (or none) is after noon."""
    if period in ("下午", "傍晚", "晚上", "夜里"):
        return hour < 12
    if period in ("中午", "晌午"):
        return hour < 6
    return period is None and 1 <= hour <= 7


def _clock(text: str, period: str | None) -> tuple[int, int, re.Match] | None:
    for m in _CLOCK_RE.finditer(text):
        h = _num(m.group("h"))
        if h is None or h > 24:
            continue
        minute = 30 if m.group("half") else {"一刻": 15, "三刻": 45}.get(m.group("q") or "", 0)
        if m.group("m"):
            minute = _num(m.group("m")) or 0
        if minute >= 60:
            continue
        if _afternoon(h, period):
            h += 12
        return h % 24, minute, m
    return None


def parse_when(text: str, now: dt.datetime) -> When | None:
    """The callback time a turn asks for, resolved against the call's time.

    Args:
        text: The caller's words (normalised or raw).
        now: When the call takes place (naive local time).

    Returns:
        The time, the words it came from and whether it is exact; None when the turn names
        no time.
    """
    if not isinstance(text, str) or not text:
        return None
    off = _offset(text, now)
    if off is not None:
        at, m, exact = off
        return When(at.replace(second=0, microsecond=0), m.group(0), exact)
    day = _day(text, now)
    period_m = _PERIOD_RE.search(text)
    period = period_m.group(0) if period_m else (day[2] if day else None)
    clock = _clock(text, period)
    spans = [m for m in (day[1] if day else None, period_m, clock[2] if clock else None) if m]
    if not spans:
        vague = _VAGUE_RE.search(text)
        if vague is None:
            return None
        at = now + dt.timedelta(minutes=_VAGUE[vague.group(0)])
        return When(at.replace(second=0, microsecond=0), vague.group(0), False)
    said = text[min(m.start() for m in spans):max(m.end() for m in spans)]
    if clock is not None:
        hour, minute, exact = clock[0], clock[1], True
    else:
        hour, minute, exact = _PERIODS.get(period or "", 10), 0, False
    date = day[0] if day else now.date()
    at = dt.datetime.combine(date, dt.time(hour, minute))
    if day is None and at <= now:
        at += dt.timedelta(days=1)
    return When(at, said, exact)
