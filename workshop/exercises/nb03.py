"""Exercises of notebook 03 (standard and FIFO queues).

Exercise 1 runs the learner's consumer on a scratch standard queue that delivers some messages
twice: in realism mode on the local backend; on the aws backend, where realism mode cannot be
set, through a client that hands some messages out a second time, as AWS now and then does.
Exercise 2 judges a choice of message group ids against the scenario's uploads. Exercise 3
checks a prediction against a run of section 3's experiment with a longer visibility timeout,
made by the checker (once per backend; its queue is deleted at once). Exercise 4 is a count by
the deduplication rules, with feedback aimed at the likely slips.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from contextlib import suppress
from typing import Any

from botocore.exceptions import ClientError

import workshop
from workshop.data import photo_uploads, upload_messages
from workshop.exercises.core import CheckedExercise, Incorrect, is_number
from workshop.exercises.nb01 import (
    Call,
    Recorder,
    checker_step,
    run_bounded,
    scratch_queue,
    send_bodies,
)
from workshop.experiments.ordering import held_back_group

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


def _judge_polling(sqs: Recorder) -> None:
    """The brief asks for long polls of up to ten messages. A short poll can come back empty on
    AWS although messages wait (it samples only some servers), so a consumer that stops on an
    empty short poll may stop early there, even if it never does on the local backend."""
    receives = sqs.calls_to("receive_message")
    last = receives[-1] if receives else None
    if (
        last is not None
        and not last.response.get("Messages")
        and not int(last.params.get("WaitTimeSeconds") or 0)
    ):
        raise Incorrect(
            "Your function stopped on an empty short poll (a receive without a wait time). On "
            "AWS a short poll asks only some of the servers and can come back empty although "
            "messages wait, so it would stop early: use long polling."
        )
    if receives and all(int(c.params.get("MaxNumberOfMessages") or 1) == 1 for c in receives):
        raise Incorrect(
            f"Each of your {len(receives)} receives asked for one message, the default: one "
            "receive can bring up to ten, which saves calls (and money on AWS)."
        )


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
        _judge_polling(sqs)
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


def _group_ids_twice(group_id: Any, edits: list[dict[str, str]]) -> tuple[list[Any], list[Any]]:
    """The learner's id for every edit, and again: one bounded run for all 120 calls."""
    first = [group_id(dict(edit)) for edit in edits]
    return first, [group_id(dict(edit)) for edit in edits]


def _judge_group_ids(group_id: Any) -> str:
    _require_function(group_id, "group_id", "q2")
    edits = edit_events()
    ids, again = run_bounded(_group_ids_twice, (group_id, edits), "group_id", seconds=5)
    for edit, gid in zip(edits, ids, strict=True):
        if not isinstance(gid, str) or not _GROUP_ID.fullmatch(gid):
            raise Incorrect(
                f"For edit {edit['edit_id']} your function returned {gid!r}: a MessageGroupId "
                "is a string of 1 to 128 letters, digits or punctuation."
            )
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
            f"{'group' if groups == 1 else 'groups'}: an edit of one photo waits for edits of "
            "unrelated photos. The scenario allows more parallelism."
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


# --- q3: predicting how long a crash holds a group back -------------------------------------

Q3_VISIBILITY_TIMEOUT = 3
"""The visibility timeout of the queue the checker measures on (section 3's queue had 2 s)."""
Q3_SLOW_SECONDS = 1.0
Q3_TOLERANCE = 0.25
"""Seconds of slack above the measurement: the poller's 50 ms polls, the 0.1 s of work on the
redelivered message 0, and the calls' latency on AWS."""
SECTION_3_TIMEOUT = 2
"""The visibility timeout of the run in the notebook's section 3."""

_q3_measured: list[tuple[Any, float]] = []
"""(backend, seconds the crashed group waited): measured once per backend."""


def _measure_crashed_wait() -> float:
    """Run :func:`held_back_group` with the exercise's timeout on the learner's backend, delete
    its queue, and return how long the crashed group waited. Once per backend: a second check
    is compared with the same run, and costs no time."""
    cloud = workshop.current()
    for backend, waited in _q3_measured:
        if backend is cloud:
            return waited
    print(
        f"Measuring: the experiment of section 3 on a queue with a {Q3_VISIBILITY_TIMEOUT} s "
        f"visibility timeout (about {Q3_VISIBILITY_TIMEOUT + 1} s) ...",
        flush=True,
    )
    with checker_step("run the experiment"):
        held = held_back_group(
            cloud, visibility_timeout=Q3_VISIBILITY_TIMEOUT, slow_seconds=Q3_SLOW_SECONDS
        )
    with suppress(ClientError):  # already gone: nothing left to delete
        cloud.client("sqs").delete_queue(QueueUrl=held.queue_url)
    waited = float(held.waits.set_index("group").loc["crashed", "waited"])
    if math.isnan(waited):
        raise Incorrect(
            "The checker's run never received message 1 of the crashed group (a slow backend?): "
            "run the check again."
        )
    _q3_measured.append((cloud, waited))
    return waited


def _judge_prediction(answer: Any) -> str:
    if not is_number(answer):
        raise Incorrect(f"Answer with a number of seconds; got {type(answer).__name__}.")
    answer = float(answer)
    if not math.isfinite(answer):
        raise Incorrect("Answer with a finite number of seconds.")
    if answer < 0:
        raise Incorrect("A wait cannot be negative.")
    timeout = Q3_VISIBILITY_TIMEOUT
    measured = _measure_crashed_wait()
    if min(timeout, measured) - 0.15 <= answer <= max(timeout, measured) + Q3_TOLERANCE:
        return (
            f"Measured: the crashed group waited {measured:.2f} s. Nobody deletes message 0, "
            f"so it stays in flight for the whole {timeout} s visibility timeout; then the "
            "poller receives it again, works on it for 0.1 s and deletes it, and only then is "
            "message 1 handed out."
        )

    def near(value: float) -> bool:
        return abs(answer - value) <= Q3_TOLERANCE

    if answer < 0.5:
        raise Incorrect(
            "Message 1 of the crashed group cannot be handed out while message 0 is in flight, "
            "and nobody deletes message 0."
        )
    if near(Q3_SLOW_SECONDS):
        raise Incorrect(
            "That is how long the slow worker keeps its message before deleting it. The crashed "
            "worker never deletes: what else ends a message's time in flight?"
        )
    if near(SECTION_3_TIMEOUT):
        raise Incorrect(
            f"That is about what the crashed group waited in your run above, on a queue with a "
            f"{SECTION_3_TIMEOUT} s visibility timeout. This queue is set up differently."
        )
    if near(30):
        raise Incorrect(
            "That is the default visibility timeout of an SQS queue, but this queue sets its own."
        )
    if near(2 * timeout):
        raise Incorrect(
            "The group is held back once, not twice: when message 0 becomes visible again, the "
            "poller receives it within 50 ms and deletes it 0.1 s later."
        )
    raise Incorrect(
        "Not what the run measured. The crashed group waits while its message 0 is in flight: "
        "how long does a message stay in flight when nobody deletes it, on this queue?"
    )


q3 = CheckedExercise(
    "How long a crashed worker holds its group back",
    _judge_prediction,
    hint=(
        "Look at the crashed group in your timeline of section 3 and at the dotted line: what "
        "decided how long message 1 waited there? Only that setting differs here."
    ),
    solution=(
        f"`answer = {Q3_VISIBILITY_TIMEOUT}`, the queue's visibility timeout (a little more was "
        "measured). Nobody deletes message 0, so the group stays blocked until message 0 becomes "
        "visible again; then message 0 is delivered again, and message 1 only after it was "
        "deleted. The longer the visibility timeout of a FIFO queue, the longer a crash stalls "
        "its group."
    ),
)


# --- q4: deduplication by the rules -----------------------------------------------------------

Q4_EXPECTED = 3

Q4_FEEDBACK = {
    0: "Every one of these sends succeeds, and the first send of each deduplication id is "
    "delivered.",
    1: "A send is dropped only if its deduplication id was used before. Do all five sends "
    "have the same deduplication id?",
    2: "Sends 4 and 5 carry explicit ids. When a send has one, what is its deduplication id: "
    "the explicit id or the hash of its body?",
    4: "Look at send 5: which deduplication id does it carry, and was that id used before?",
    5: "Not every send is delivered: a send whose deduplication id was already used within the "
    "5 minutes succeeds but delivers nothing. Work out each send's id.",
}


def _judge_dedup_count(answer: Any) -> str:
    if not is_number(answer):
        raise Incorrect(f"Answer with a number of messages; got {type(answer).__name__}.")
    if not math.isfinite(float(answer)) or float(answer) != int(answer):
        raise Incorrect("A number of messages is a whole number.")
    count = int(answer)
    if count < 0:
        raise Incorrect("A number of messages cannot be negative.")
    if count > 5:
        raise Incorrect(
            "Five sends cannot deliver more than five messages: a FIFO queue adds no copies."
        )
    if count != Q4_EXPECTED:
        raise Incorrect(Q4_FEEDBACK[count])
    return (
        "Right: the ids are sha256(X), sha256(X), sha256(Y), x-2 and x-2; the explicit id wins "
        "over the body."
    )


q4 = CheckedExercise(
    "Messages delivered after five sends to a content-deduplicating FIFO queue",
    _judge_dedup_count,
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
