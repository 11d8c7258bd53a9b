"""The frame a form dialog is built in: a title, a body that scrolls to whichever widget has
focus, and the buttons and key hints below it, so that every field and the buttons stay
reachable and visible on a terminal as small as 80x24.

A dialog sets its frame's `max-height` to the rows its fields need: the frame takes the screen's
height up to that, and the body scrolls when the screen is shorter. (A frame as tall as its
content cannot bound a scrolling body, and a footer docked inside a scrolling body hides the
fields Textual scrolls to.)"""

from __future__ import annotations

from textual.containers import Vertical, VerticalScroll


class DialogFrame(Vertical):
    """The dialog's box: title, body, footer, in that order."""

    DEFAULT_CSS = """
    DialogFrame { height: 100%; max-width: 100%; padding: 0 1; background: $surface; }
    DialogFrame > .title { height: auto; text-style: bold; color: $primary; }
    """


class DialogBody(VerticalScroll, can_focus=False):
    """The fields; it scrolls (Textual brings a newly focused field into view), and is never
    focused itself, so Tab goes from field to field and on to the buttons."""

    DEFAULT_CSS = "DialogBody { height: 1fr; scrollbar-size-vertical: 1; }"


class DialogFooter(Vertical):
    """What must always show: problems with what was typed, the buttons, the keys."""

    DEFAULT_CSS = """
    DialogFooter { height: auto; }
    DialogFooter > .keys { height: auto; color: $text-muted; }
    DialogFooter > .problems { height: auto; color: $error; }
    """
