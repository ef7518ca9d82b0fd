"""Exercises of notebook 03 (standard and FIFO queues).

Exercise 1 runs the learner's consumer on a scratch standard queue that delivers some messages
twice: in realism mode on the local backend; on the aws backend, where realism mode cannot be
set, through a client that hands some messages out a second time, as AWS now and then does.
Exercise 2 judges a choice of message group ids against the scenario's uploads, exercise 3 a
reading of the learner's own timeline, exercise 4 a count by the deduplication rules.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any

import pandas as pd

from workshop.data import photo_uploads, upload_messages
from workshop.exercises.core import CheckedExercise, Incorrect, ValueExercise, is_number
from workshop.exercises.nb01 import Call, Recorder, run_bounded, scratch_queue, send_bodies

# --- helpers ----------------------------------------------------------------------------------


def _require_function(answer: Any, name: str, exercise: str) -> None:
    if not callable(answer):
        raise Incorrect(
            f"Pass your function itself, without calling it: nb03.{exercise}.check({name}); "
            f"got {type(answer).__name__}."
        )


class Duplicating(Recorder):
    """A recording SQS client whose ``receive_message`` hands every ``every``-th message out a
    second time, on a later receive: same MessageId and body, as a standard queue may.

    Used where realism mode is not available (the aws backend), so the check can still tell an
    idempotent consumer from a naive one. A repeat carries its first copy's receipt handle, so
    a delete of a handle already deleted is answered here, as a success, and never reaches SQS.
    """

    def __init__(self, client: Any, every: int = 3):
        super().__init__(client)
        self._every = every
        self._seen = 0
        self._pending: list[dict[str, Any]] = []
        self._deleted: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        handlers = {
            "receive_message": self._receive_message,
            "delete_message": self._delete_message,
            "delete_message_batch": self._delete_message_batch,
        }
        if name not in handlers:
            return super().__getattr__(name)

        def recorded(**params: Any) -> dict[str, Any]:
            response = handlers[name](**params)
            self.calls.append(Call(name, params, response))
            return response

        return recorded

    def _receive_message(self, **params: Any) -> dict[str, Any]:
        response = dict(self._client.receive_message(**params))
        fresh = list(response.get("Messages", []))
        # Earlier repeats first, never more messages than the caller asked for.
        room = max(0, int(params.get("MaxNumberOfMessages", 1)) - len(fresh))
        messages, self._pending = self._pending[:room] + fresh, self._pending[room:]
        for message in fresh:
            self._seen += 1
            if self._seen % self._every == 0:
                self._pending.append(dict(message))  # handed out again by a later receive
        if messages:
            response["Messages"] = messages
        return response

    def _delete_message(self, **params: Any) -> dict[str, Any]:
        handle = params.get("ReceiptHandle", "")
        if handle in self._deleted:
            return {}
        response = self._client.delete_message(**params)
        self._deleted.add(handle)
        return response

    def _delete_message_batch(self, **params: Any) -> dict[str, Any]:
        entries = params.get("Entries", [])
        again = [e for e in entries if e.get("ReceiptHandle") in self._deleted]
        rest = [e for e in entries if e.get("ReceiptHandle") not in self._deleted]
        response: dict[str, Any] = {"Successful": [], "Failed": []}
        if rest or not entries:  # an empty batch goes to SQS, which refuses it
            response = dict(self._client.delete_message_batch(**{**params, "Entries": rest}))
        handles = {e["Id"]: e.get("ReceiptHandle") for e in rest}
        for entry in response.get("Successful", []):
            self._deleted.add(handles.get(entry["Id"], ""))
        response["Successful"] = [
            *response.get("Successful", []),
            *({"Id": e["Id"]} for e in again),
        ]
        return response


def _deliveries(sqs: Recorder) -> list[dict[str, Any]]:
    return [
        m for call in sqs.calls_to("receive_message") for m in call.response.get("Messages", [])
    ]


# --- q1: an idempotent consumer ---------------------------------------------------------------

Q1_UPLOADS = 30


def _judge_idempotent(count_per_user: Any) -> str:
    _require_function(count_per_user, "count_per_user", "q1")
    bodies = upload_messages(Q1_UPLOADS)
    truth = Counter(json.loads(body)["user"] for body in bodies)
    with scratch_queue("q1") as (cloud, url):
        base = cloud.client("sqs")
        if cloud.kind == "local":
            cloud.set_sqs_realism(url, duplicate=0.3, reorder=0.2, seed=11)
            sqs: Recorder = Recorder(base)
        else:
            sqs = Duplicating(base)
        send_bodies(base, url, list(bodies))
        result = run_bounded(count_per_user, (sqs, url), "count_per_user")
        deliveries = _deliveries(sqs)
        repeats = len(deliveries) - len({m["MessageId"] for m in deliveries})
        if not isinstance(result, dict):
            raise Incorrect(
                f"Return a dict of uploads per user, such as {{'ana': 3}}; your function "
                f"returned {type(result).__name__}."
            )
        missing_users = set(truth) - set(result)
        if len(deliveries) < len(bodies) or missing_users:
            raise Incorrect(
                f"Your function received {len(deliveries)} messages and counted "
                f"{len(result)} users, but the queue held {len(bodies)} uploads. Keep receiving "
                "until a receive comes back empty."
            )
        over = {user: result[user] - truth[user] for user in truth if result[user] > truth[user]}
        under = {user: truth[user] - result[user] for user in truth if result[user] < truth[user]}
        if over:
            user, extra = next(iter(over.items()))
            raise Incorrect(
                f"{len(over)} users were counted too often (for example {user}, {extra} too "
                f"many). {repeats} of the {len(deliveries)} deliveries repeated a message "
                "already received: count each message once."
            )
        if under:
            raise Incorrect(
                f"{len(under)} users were counted too rarely: some uploads were skipped. Skip "
                "only a message you have already counted."
            )
        if set(result) - set(truth):
            raise Incorrect(
                f"Your dict has users that uploaded nothing: {set(result) - set(truth)}."
            )
        handle_to_id = {m["ReceiptHandle"]: m["MessageId"] for m in deliveries}
        deleted = {
            handle_to_id.get(entry.get("ReceiptHandle"))
            for call in sqs.calls_to("delete_message_batch")
            for entry in call.params.get("Entries", [])
        } | {
            handle_to_id.get(call.params.get("ReceiptHandle"))
            for call in sqs.calls_to("delete_message")
        }
        undeleted = {m["MessageId"] for m in deliveries} - deleted
        if undeleted:
            raise Incorrect(
                f"Right counts, but {len(undeleted)} messages were never deleted: they would "
                "come back after their visibility timeout. Delete each message after counting it."
            )
    tested = (
        f"{repeats} of the {len(deliveries)} deliveries were repeats, and none was counted twice."
        if repeats
        else "No message came twice in this run, so idempotency was not put to the test."
    )
    return f"Right counts for all {len(truth)} users. {tested}"


q1 = CheckedExercise(
    "count_per_user(sqs, queue_url): an idempotent consumer",
    _judge_idempotent,
    hint=(
        "Keep a set of the MessageIds you have counted. For each message received: if its "
        "MessageId is in the set, skip the counting (but still delete it); otherwise count "
        "json.loads(message['Body'])['user'] and add the id to the set. Stop when a receive "
        "comes back empty."
    ),
    solution="""```python
def count_per_user(sqs, queue_url):
    counts, processed = {}, set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            return counts
        for message in messages:
            if message["MessageId"] not in processed:
                user = json.loads(message["Body"])["user"]
                counts[user] = counts.get(user, 0) + 1
                processed.add(message["MessageId"])
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                     for i, m in enumerate(messages)],
        )
```
Counting by `upload_id` instead of `MessageId` is even safer: it also catches an upload the
producer sent twice (a retried send gets a new MessageId).""",
)


# --- q2: choosing message group ids -----------------------------------------------------------

ACTIONS = ("crop", "filter", "rename")
_GROUP_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def edit_events(photos: int = 20) -> list[dict[str, str]]:
    """The scenario's messages: three edits to each of ``photos`` uploads, interleaved as they
    would arrive (every photo's crop, then every photo's filter, then every rename)."""
    frame = photo_uploads().head(photos)
    return [
        {
            "edit_id": f"{row.upload_id}-{action}",
            "upload_id": row.upload_id,
            "user": row.user,
            "action": action,
        }
        for action in ACTIONS
        for row in frame.itertuples()
    ]


def _judge_group_ids(group_id: Any) -> str:
    _require_function(group_id, "group_id", "q2")
    edits = edit_events()
    ids = [run_bounded(group_id, (dict(edit),), "group_id", seconds=5) for edit in edits]
    for edit, gid in zip(edits, ids, strict=True):
        if not isinstance(gid, str) or not _GROUP_ID.fullmatch(gid):
            raise Incorrect(
                f"For edit {edit['edit_id']} your function returned {gid!r}: a MessageGroupId "
                "is a string of 1 to 128 letters, digits or punctuation."
            )
    again = [run_bounded(group_id, (dict(edit),), "group_id", seconds=5) for edit in edits]
    if again != ids:
        raise Incorrect(
            "Called twice on the same edit, your function gave different ids: the group of a "
            "message must follow from the message."
        )
    groups_of_photo: dict[str, set[str]] = {}
    for edit, gid in zip(edits, ids, strict=True):
        groups_of_photo.setdefault(edit["upload_id"], set()).add(gid)
    split = {photo: groups for photo, groups in groups_of_photo.items() if len(groups) > 1}
    if split:
        photo, groups = next(iter(split.items()))
        raise Incorrect(
            f"The three edits of photo {photo} went to {len(groups)} different groups, so "
            "nothing keeps them in order: a filter could be applied before the crop."
        )
    photos = len(groups_of_photo)
    groups = len(set(ids))
    if groups < photos:
        raise Incorrect(
            f"Every photo's edits stay in order, but {photos} photos share only {groups} "
            "groups: an edit of one photo waits for edits of unrelated photos. The scenario "
            "allows more parallelism."
        )
    return f"{photos} photos, {groups} groups: each photo's edits in order, photos in parallel."


q2 = CheckedExercise(
    "group_id(edit): the MessageGroupId of an edit",
    _judge_group_ids,
    hint=(
        "Order is needed only among the edits of one photo. Which field is the same for all "
        "edits of one photo and different for different photos?"
    ),
    solution="""```python
def group_id(edit):
    return edit["upload_id"]
```
Grouping by `user` also keeps each photo's edits in order, but makes one user's photos wait for
each other; a single group for everything processes one edit at a time; `edit_id` (a new
group per message) gives no order at all.""",
)


# --- q3: reading the held-back timeline ------------------------------------------------------


def _judge_wait(answer: Any, waits: Any = None) -> str:
    if not isinstance(waits, pd.DataFrame) or not {"group", "waited"} <= set(waits.columns):
        raise Incorrect(
            "Pass your measurement as the second argument: nb03.q3.check(answer, held.waits)."
        )
    if not is_number(answer):
        raise Incorrect(f"Answer with a number of seconds; got {type(answer).__name__}.")
    measured = float(waits.set_index("group").loc["crashed", "waited"])
    if math.isnan(measured):
        raise Incorrect("Your measurement has no wait for the crashed group: run section 3 again.")
    if abs(answer - measured) > 0.25:
        direction = "too long" if answer > measured else "too short"
        raise Incorrect(f"{answer!r} s is {direction} for your timeline.")
    return (
        f"Your crashed group waited {measured:.2f} s: the visibility timeout, plus the moment "
        "the poller took to notice."
    )


q3 = CheckedExercise(
    "How long the crashed worker's group waited",
    _judge_wait,
    hint=(
        "Find the 'crashed' row of your timeline: when did its message 1 start, compared with "
        "when the crashed worker received message 0? The `waits` table has both times."
    ),
    solution=(
        "`answer = held.waits.set_index('group').loc['crashed', 'waited']`: about the queue's "
        "visibility timeout, 2 s. Nobody deleted message 0, so the group stayed blocked until "
        "the message became visible again; then message 0 was delivered again, and message 1 "
        "only after it was deleted."
    ),
)


# --- q4: deduplication by the rules -----------------------------------------------------------

q4 = ValueExercise(
    "Messages delivered after five sends to a content-deduplicating FIFO queue",
    expected=3,
    hint=(
        "Work out each send's deduplication id: the explicit MessageDeduplicationId if the send "
        "has one, otherwise the SHA-256 of the body. Within 5 minutes, only the first send of "
        "each id is delivered."
    ),
    solution=(
        "`answer = 3`. The ids are sha256(X), sha256(X), sha256(Y), `x-2`, `x-2`: three "
        "different ids, so three deliveries (sends 1, 3 and 4). Send 2 repeats send 1's body; "
        "send 5 has a new body but repeats send 4's explicit id, and the explicit id wins."
    ),
)
