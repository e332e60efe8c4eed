"""The per-caller limits' counting rules on virtual time: windows, slots, reservations."""

from function_app.domain.limits import (
    SWEEP_EVERY,
    RateWindow,
    Refusal,
    Reservations,
    Slots,
    running_refusal,
    whole_seconds,
)


def test_whole_seconds_round_up_and_are_at_least_one() -> None:
    assert whole_seconds(0.0) == 1
    assert whole_seconds(-3.0) == 1
    assert whole_seconds(1.0) == 1
    assert whole_seconds(1.01) == 2
    assert whole_seconds(59.5) == 60


def test_a_window_takes_the_maximum_then_refuses_until_the_oldest_leaves() -> None:
    window = RateWindow("LIMIT_X", 3, window=60.0)
    assert window.take("alice", 0.0) is None
    assert window.take("alice", 10.0) is None
    assert window.take("alice", 20.0) is None
    refusal = window.take("alice", 30.0)
    # The first request leaves the window at 60 s: 30 s from now.
    assert refusal == Refusal("LIMIT_X", 3, 30)
    assert window.take("alice", 59.9) == Refusal("LIMIT_X", 3, 1)
    assert window.take("alice", 60.0) is None  # the one at 0 s is out
    assert window.take("alice", 60.5) == Refusal("LIMIT_X", 3, 10)  # next out: 10 s at 70 s


def test_a_refused_request_is_not_counted() -> None:
    window = RateWindow("LIMIT_X", 1, window=60.0)
    assert window.take("alice", 0.0) is None
    for t in range(1, 60):
        assert window.take("alice", float(t)) is not None
    assert window.used("alice", 59.0) == 1
    assert window.take("alice", 60.0) is None


def test_each_key_has_its_own_window() -> None:
    window = RateWindow("LIMIT_X", 2)
    assert window.take("alice", 0.0) is None
    assert window.take("alice", 0.0) is None
    assert window.take("alice", 0.0) is not None
    assert window.take("bob", 0.0) is None
    assert window.take("bob", 0.0) is None


def test_a_maximum_of_zero_turns_the_window_off() -> None:
    window = RateWindow("LIMIT_X", 0)
    assert all(window.take("alice", 0.0) is None for _ in range(10_000))
    assert window.keys == 0


def test_keys_that_went_quiet_are_forgotten() -> None:
    window = RateWindow("LIMIT_X", 5, window=60.0)
    for n in range(100):
        window.take(f"caller-{n}", 0.0)
    assert window.keys == 100
    for _ in range(SWEEP_EVERY):
        window.take("busy", 120.0)
    assert window.keys == 1


def test_slots_refuse_at_the_maximum_until_one_is_given_back() -> None:
    slots = Slots("LIMIT_S", 2, lifetime=600.0)
    first = slots.take("alice", 0.0)
    second = slots.take("alice", 100.0)
    assert isinstance(first, int)
    assert isinstance(second, int)
    # The earliest slot lapses at 600 s at the latest: 500 s from now.
    assert slots.take("alice", 100.0) == Refusal("LIMIT_S", 2, 500)
    slots.give_back("alice", first)
    slots.give_back("alice", first)  # twice is once
    assert slots.held("alice", 100.0) == 1
    assert isinstance(slots.take("alice", 100.0), int)
    assert isinstance(slots.take("bob", 100.0), int)  # bob's own count


def test_a_slot_never_given_back_lapses_at_its_deadline() -> None:
    slots = Slots("LIMIT_S", 1, lifetime=30.0)
    assert isinstance(slots.take("alice", 0.0), int)
    assert isinstance(slots.take("alice", 29.0), Refusal)
    assert slots.held("alice", 30.0) == 0
    assert isinstance(slots.take("alice", 30.0), int)


def test_a_maximum_of_zero_turns_slots_off() -> None:
    slots = Slots("LIMIT_S", 0, lifetime=30.0)
    assert all(isinstance(slots.take("alice", 0.0), int) for _ in range(1000))


def test_reservations_name_the_jobs_of_those_that_arrived_first() -> None:
    reservations = Reservations()
    a = reservations.open("alice", "job-a")
    b = reservations.open("alice", "job-b")
    other = reservations.open("bob", "job-x")
    c = reservations.open("alice", "job-c")
    assert [reservations.ahead("alice", t) for t in (a, b, c)] == [
        set(),
        {"job-a"},
        {"job-a", "job-b"},
    ]
    assert reservations.ahead("bob", other) == set()
    reservations.close("alice", a)
    assert reservations.ahead("alice", c) == {"job-b"}
    reservations.close("alice", b)
    reservations.close("alice", c)
    reservations.close("alice", c)
    assert reservations.in_flight("alice") == 0


def test_running_refusal_counts_stored_and_ahead_once_each() -> None:
    def refusal(stored: set[str], ahead: set[str], maximum: int = 3) -> Refusal | None:
        return running_refusal("LIMIT_R", maximum, stored, ahead, retry_after=5)

    assert refusal({"a", "b"}, set()) is None
    assert refusal({"a", "b"}, {"c"}) == Refusal("LIMIT_R", 3, 5)
    assert refusal({"a", "b", "c"}, set()) is not None
    # A job recorded while its request is still in flight counts once.
    assert refusal({"a", "b"}, {"a", "b"}) is None
    assert refusal({"a"} | {str(n) for n in range(99)}, set(), maximum=0) is None
