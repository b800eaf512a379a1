"""Carrying thread ids from one night's clustering to the next, on hand-made cases."""

from __future__ import annotations

from clustering.continuity import carry_threads, thread_id


def _order(article: str) -> tuple[str]:
    return (article,)


def test_a_growing_story_keeps_its_id() -> None:
    previous = {"a1": "T", "a2": "T"}
    result = carry_threads([["a1", "a2", "a3"]], ["a1", "a2", "a3"], previous, {"T"}, _order)
    assert result.memberships == {"a3": "T"}
    assert result.grew == {"T": ["a3"]} and result.created == {} and result.merged == {}


def test_new_article_in_no_group_starts_its_own_thread() -> None:
    result = carry_threads([], ["x"], {}, set(), _order)
    assert result.memberships == {"x": thread_id("x")} and result.created == {thread_id("x"): None}


def test_unclustered_article_stays_in_its_thread() -> None:
    previous = {"a1": "T", "a2": "T", "a3": "T"}
    result = carry_threads([["a1", "a2"]], ["a1", "a2", "a3"], previous, {"T"}, _order)
    assert result.memberships == {} and result.created == {}


def test_merge_keeps_the_thread_the_group_holds_most_of() -> None:
    previous = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}
    group = ["a1", "a2", "a3", "b1", "b2", "n1"]
    result = carry_threads([group], group, previous, {"A", "B"}, _order)
    assert result.merged == {"B": "A"}
    assert result.memberships == {"b1": "A", "b2": "A", "n1": "A"}


def test_merged_thread_takes_its_members_outside_tonights_groups_along() -> None:
    previous = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "b-old": "B"}
    group = ["a1", "a2", "a3", "b1", "b2"]
    result = carry_threads([group], group, previous, {"A", "B"}, _order)
    assert result.merged == {"B": "A"} and result.memberships["b-old"] == "A"


def test_split_gives_the_smaller_part_a_new_id_with_its_parent() -> None:
    previous = {f"a{i}": "A" for i in range(5)}
    groups = [["a0", "a1", "a2"], ["a3", "a4"]]
    result = carry_threads(groups, list(previous), previous, {"A"}, _order)
    (new_id,) = result.created
    assert result.created == {new_id: "A"} and new_id != "A"
    assert result.memberships == {"a3": new_id, "a4": new_id}


def test_group_without_old_members_may_continue_a_similar_unclaimed_thread() -> None:
    previous = {"old1": "T", "old2": "T"}
    window = ["old1", "old2", "n1", "n2"]

    def continues(group: list[str], candidates: set[str]) -> str | None:
        return "T" if "T" in candidates else None

    result = carry_threads([["n1", "n2"]], window, previous, {"T"}, _order, continues)
    assert result.memberships == {"n1": "T", "n2": "T"} and result.created == {}


def test_an_id_once_given_out_is_never_given_again() -> None:
    taken = {thread_id("a1")}  # the id a1 founded earlier, since merged away
    result = carry_threads([["a1", "a2"]], ["a1", "a2"], {}, taken, _order)
    (new_id,) = result.created
    assert new_id not in taken and new_id.startswith(thread_id("a1") + "-")


def test_a_new_group_is_offered_only_the_unclaimed_threads_close_enough_to_it() -> None:
    import numpy as np

    from clustering.neighbourhood import similar_threads
    from night.settings import NightSettings

    # articles g1, g2 (tonight's group) point along x; thread T's centroid too, U's along y, V's along x
    matrix = np.array([[1, 0.1, 0], [1, -0.1, 0]], dtype=np.float32)
    row_of = {"g1": 0, "g2": 1}
    centroids = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]], dtype=np.float32)
    settings = NightSettings()
    threshold = settings.continue_similarity
    near = similar_threads([["g1", "g2"]], matrix, row_of, centroids, ["T", "U", "V"], {"T", "U"}, threshold)
    ((similarity, thread),) = near[("g1", "g2")]
    assert thread == "T" and similarity >= settings.continue_similarity  # V is claimed, U is far
