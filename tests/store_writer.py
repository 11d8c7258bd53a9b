"""Helper process for tests/test_store.py: appends messages to one conversation.

Usage: store_writer.py PATH CONVERSATION_ID COUNT TAG. Prints "ready" once the store is
open, then waits for a line on stdin so that two writers start at the same moment.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tui.domain import MessageStatus, Role
from tui.store import HistoryStore


def main(path: str, conversation_id: str, count: str, tag: str) -> None:
    with HistoryStore.open(Path(path)) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(int(count)):
            text = f"{tag}-{i}"
            if i % 2:
                # Answers go through the streaming path, as in the app.
                answer = store.add_message(int(conversation_id), Role.ASSISTANT, "", status=MessageStatus.STREAMING)
                store.update_message_content(answer.id, text[:1])
                store.finish_message(answer.id, content=text, status=MessageStatus.COMPLETE)
            else:
                store.add_message(int(conversation_id), Role.USER, text)
            # Like the app's throttled commits; without a pause one writer would keep the
            # lock to itself and the two would merely take turns.
            time.sleep(0.001)


if __name__ == "__main__":
    main(*sys.argv[1:5])
