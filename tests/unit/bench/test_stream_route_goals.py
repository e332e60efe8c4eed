"""The stream route bench judges the memory goal on the app's own process."""

from bench.stream_route_bench import Result, goals, kib_per_stream, together


def result(total: float, host: float, worker: float | None) -> Result:
    return Result(
        mode="route",
        streams=5000,
        held=5000,
        lost=0,
        kib_per_stream=total,
        traced_kib_per_stream=None,
        host_kib_per_stream=host,
        worker_kib_per_stream=worker,
        cpu_us_per_event=1.0,
        reads_per_second=1.0,
        p50_ms=1.0,
        p99_ms=1.0,
        delivered=1,
        client_cpu_percent=1.0,
        server_cpu_percent=1.0,
        load_average=1.0,
    )


def memory_goal(r: Result) -> tuple[str, bool | None]:
    (goal,) = [g for g in goals([r]) if "KiB" in g[0]]
    return goal


def test_through_the_worker_the_goal_is_the_workers_memory_not_the_host_proxys() -> None:
    text, met = memory_goal(result(total=60.0, host=45.0, worker=15.0))
    assert met is True
    assert "in the worker" in text
    assert memory_goal(result(total=60.0, host=5.0, worker=55.0))[1] is False


def test_in_process_the_goal_is_the_one_server_process() -> None:
    text, met = memory_goal(result(total=15.0, host=15.0, worker=None))
    assert met is True
    assert "in the worker" not in text
    assert memory_goal(result(total=25.0, host=25.0, worker=None))[1] is False


def test_per_stream_figures_from_the_two_processes() -> None:
    assert together((1024, 2048)) == 3072
    assert together((1024, None)) == 1024
    assert kib_per_stream(1024, 1024 + 10 * 1024, 10) == 1.0
    assert kib_per_stream(None, 5, 10) is None
    assert kib_per_stream(2048, 1024, 1) == 0.0  # shrinking is not a negative cost
