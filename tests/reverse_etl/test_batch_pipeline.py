"""The order in which NetSuite batch workers take requests: batches first, each read-back group
of 1,000 accepted records once five more batches went out, the last groups when no batch is
left; and nothing more after a worker failed."""
from __future__ import annotations

from reverse_etl.netsuite import READ_BACK_CHUNK, READ_BACK_LAG_BATCHES, _BatchPipeline
from reverse_etl.protocol import SendItem


def _batch(start: int, size: int = 100) -> list[SendItem]:
    return [SendItem(f"u:{n}", {"externalId": f"u:{n}"}, "h") for n in range(start, start + size)]


def test_read_backs_go_between_batches_after_the_lag_and_the_last_group_at_the_end():
    work = _BatchPipeline(count=2_550, batch_size=100)  # 26 batches, the last one of 50
    taken = []
    while (task := work.next_task()) is not None:
        kind, argument = task
        if kind == "batch":
            taken.append(("batch", argument))
            size = 50 if argument == 2_500 else 100
            work.batch_answered(_batch(argument, size), job=f"/async/v1/job/{argument}")
        else:
            taken.append(("read-back", len(argument), argument[0]))

    read_backs = [(position, task) for position, task in enumerate(taken) if task[0] == "read-back"]
    # The group filled by batch 10 waits for 5 more batches; so does the one filled by batch 20.
    assert read_backs == [(10 + READ_BACK_LAG_BATCHES, ("read-back", READ_BACK_CHUNK, "u:0")),
                          (21 + READ_BACK_LAG_BATCHES, ("read-back", READ_BACK_CHUNK, "u:1000")),
                          (28, ("read-back", 550, "u:2000"))]
    assert [task[1] for task in taken if task[0] == "batch"] == list(range(0, 2_550, 100))
    assert len(work.pending) == 2_550 and work.jobs["u:2549"] == "/async/v1/job/2500"


def test_a_batch_netsuite_refused_is_not_read_back():
    work = _BatchPipeline(count=200, batch_size=100)
    assert work.next_task() == ("batch", 0)
    assert work.next_task() == ("batch", 100)
    work.batch_answered(_batch(0), job=None)  # refused: its outcomes were reported already
    work.batch_answered(_batch(100), job="/async/v1/job/2")

    assert work.next_task() == ("read-back", [f"u:{n}" for n in range(100, 200)])
    assert work.next_task() is None
    assert set(work.pending) == {f"u:{n}" for n in range(100, 200)}


def test_after_a_worker_failed_nothing_more_is_handed_out():
    work = _BatchPipeline(count=1_000, batch_size=100)
    assert work.next_task() == ("batch", 0)

    work.abort()

    assert work.next_task() is None
