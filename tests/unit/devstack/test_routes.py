import pytest

from devstack.host.routes import RouteTemplateError, compile_route


def test_a_parameter_matches_one_segment() -> None:
    route = compile_route("api", "v1/jobs/{jobId}")

    assert route.match("/api/v1/jobs/abc-123") == {"jobId": "abc-123"}
    assert route.match("/api/v1/jobs/abc/stream") is None
    assert route.match("/api/v1/jobs") is None


def test_literals_match_case_insensitively_and_a_trailing_slash_is_allowed() -> None:
    route = compile_route("api", "v1/health")

    assert route.match("/API/V1/Health/") == {}


def test_int_constraint_and_optional_parameter() -> None:
    route = compile_route("api", "items/{id:int}/{mode?}")

    assert route.match("/api/items/42") == {"id": "42"}
    assert route.match("/api/items/42/full") == {"id": "42", "mode": "full"}
    assert route.match("/api/items/x") is None


def test_catch_all_takes_the_rest_of_the_path() -> None:
    route = compile_route("api", "files/{*rest}")

    assert route.match("/api/files/a/b/c.txt") == {"rest": "a/b/c.txt"}
    assert route.match("/api/files") == {}


def test_an_empty_prefix_serves_at_the_root() -> None:
    assert compile_route("", "ping").match("/ping") == {}


def test_literals_take_precedence_over_parameters() -> None:
    literal = compile_route("api", "v1/jobs/stats")
    param = compile_route("api", "v1/jobs/{jobId}")

    assert literal.precedence < param.precedence


@pytest.mark.parametrize("route", ["a/{*rest}/b", "a/{x:regex}", "a/b{c}"])
def test_unsupported_templates_are_refused(route: str) -> None:
    with pytest.raises(RouteTemplateError):
        compile_route("api", route)
