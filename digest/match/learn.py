"""Learning from a reader's ratings: relevance feedback over TF-IDF, explainable per paper.

A reader's "more like this" / "less like this" ratings re-rank what their topics found, and
widen or narrow it (Rocchio's relevance feedback; see `rerank` for the rules):

- every match moves by its mean cosine to the liked papers minus its mean cosine to the
  disliked ones (Rocchio's centroids);
- the reader's own rated papers set a score cut-off when their ratings allow one: below the
  lowest liked paper, the best disliked paper's score; a match scoring no more leaves. With
  fewer than three liked papers the lowest liked score is one or two samples, weak evidence of
  where relevant papers end: a match below the cut-off then leaves only when it is more like a
  disliked paper than like any liked one (a paper like none of them keeps its topic's verdict);
- a paper whose nearest rated paper is one rated down (and close) leaves;
- a paper the topics missed comes in when its nearest rated paper is one rated up (and close):
  it says so, `like "X", which you rated up`;
- a reader with no ratings gets exactly what the topics matched.

Vectors are TF-IDF over the edition's papers (title counted twice, abstract once; sublinear term
frequency; L2-normalised), so a term shared by most papers of the stream ("model", "llm") weighs
little and a paper's distinctive terms carry it. Work is shared the way the matcher shares it:
the papers are vectorised once per index, and a rated paper's similarities to every indexed
paper are computed once (through an inverted index) for all the readers who rated it, which is
most of them, since readers rate the papers of the same editions.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from digest.models import Match, MatchReason, Paper, Rating

# The cosine below which two papers are not "alike" at all: similarities under it are not kept.
FLOOR = 0.08
# A rated paper moves at most its NEIGHBOURS nearest papers, through its TERMS heaviest terms:
# what makes it distinctive. Both bound the work per reader whatever the size of the index.
NEIGHBOURS = 200
TERMS = 200
# Terms in more than this share of the papers say little about any one and have the longest
# posting lists: they are left out of the neighbour search (they stay in the vectors).
COMMON_SHARE = 0.2
COMMON_MIN = 25  # papers: in a small index every shared term counts
_SIM_CACHE_LIMIT = 20_000  # rated papers whose similarities are kept per index
_TITLE_LIMIT = 80


@dataclass(frozen=True, slots=True)
class Tuning:
    """How far ratings move a digest: one value per effect, never per topic or paper, each
    relative to the reader's own rated papers where it can be. Chosen on
    bench/relevance/ratings.py's simulated ratings (rate one day's digest as the judgments say,
    score the later papers); the figures are in bench/relevance/README.md."""

    rocchio: float = 1.0  # weight of (mean cosine to liked - mean cosine to disliked) in a score
    narrow: float = 0.25  # a match whose nearest rated paper is a disliked one this alike: out
    widen: float = 0.20  # a paper the topics missed whose nearest rated paper is a liked one
    #                      at least this alike: in
    trusted: int = 3  # liked papers from which the cut-off alone decides; with fewer, the
    #                   lowest liked score is one or two samples, and a match below the
    #                   cut-off leaves only when it is more like a disliked paper


DEFAULT_TUNING = Tuning()

_WORD = re.compile(r"[^\W_]+")
# Words that say nothing about what a paper is about (IDF discounts the rest of the common ones).
_STOP_WORDS = """
    a about above after again against all also an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having here how however i if in into is it its itself just may
    more most much must no nor not now of off on once only or other our ours out over own
    same should so some such than that the their them then there these they this those
    through thus to too under until up upon us very via was we were what when where which
    while who whom why will with within without would yet you your based using use used new
    propose proposed present paper approach method methods result results show shows shown
    work also available release released github com https http www org achieve achieves
    achieving demonstrate demonstrates extensive experiments experiment significantly
    significant furthermore moreover existing state art
"""
_STOP = frozenset(_STOP_WORDS.split())


def _stem(word: str) -> str:
    """A light plural folding: enough for TF-IDF, where "models" and "model" should meet."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Lower-cased, plural-folded words, stop words and bare numbers dropped."""
    out: list[str] = []
    for raw in _WORD.findall(text.lower()):
        if len(raw) < 2 or raw in _STOP or raw.isdigit():
            continue
        out.append(_stem(raw))
    return out


def _counts(paper: Paper) -> Counter[str]:
    counts = Counter(terms(paper.title))
    counts.update(counts)  # the title counts twice: a paper is about what its title says
    counts.update(terms(paper.abstract))
    return counts


class TextVectors:
    """TF-IDF vectors of one index's papers (paper i = index document i), and each rated
    paper's similarities to them, cached for every reader who rated it."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.papers = tuple(papers)
        self.position = {p.id: i for i, p in enumerate(self.papers)}
        counts = [_counts(p) for p in self.papers]
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        n = len(self.papers)
        self.idf = {t: math.log((n + 1) / (d + 1)) + 1.0 for t, d in df.items()}
        self.postings: dict[str, list[tuple[int, float]]] = {}
        common = {t for t, d in df.items() if d > max(COMMON_SHARE * n, COMMON_MIN)}
        for doc, c in enumerate(counts):
            for term, weight in self._weigh(c).items():
                if term not in common:
                    self.postings.setdefault(term, []).append((doc, weight))
        self._similar: dict[str, dict[str, float]] = {}
        self._because: dict[str, str] = {}
        self.similar_known = self._similar.get
        self._ids: dict[str, frozenset[str]] = {}  # each rated paper's neighbours, as a set
        self._close: dict[tuple[str, float], tuple[tuple[str, float], ...]] = {}

    def neighbour_ids(self, paper_id: str) -> frozenset[str]:
        """The ids `similar` found for this paper (asked after `similar`): set intersections
        with them cost one look-up per match, in C."""
        return self._ids[paper_id]

    def _weigh(self, counts: Counter[str]) -> dict[str, float]:
        idf = self.idf
        raw = {t: (1.0 + math.log(tf)) * idf[t] for t, tf in counts.items() if t in idf}
        norm = math.sqrt(sum(w * w for w in raw.values())) or 1.0
        return {t: w / norm for t, w in raw.items()}

    def similar(self, paper: Paper) -> dict[str, float]:
        """Cosine of `paper` (indexed or not) to the indexed papers it is most alike (≥ FLOOR,
        at most NEIGHBOURS), by paper id, the paper itself excluded."""
        found = self._similar.get(paper.id)
        if found is None:
            sums: dict[int, float] = {}
            postings = self.postings
            weights = self._weigh(_counts(paper))
            heaviest = sorted(
                ((t, w) for t, w in weights.items() if t in postings), key=lambda item: -item[1]
            )[:TERMS]
            for term, weight in heaviest:
                for doc, other in postings.get(term, ()):
                    sums[doc] = sums.get(doc, 0.0) + weight * other
            own = self.position.get(paper.id)
            near = sorted(
                ((s, d) for d, s in sums.items() if s >= FLOOR and d != own), reverse=True
            )
            papers = self.papers
            found = {papers[d].id: s for s, d in near[:NEIGHBOURS]}
            if len(self._similar) >= _SIM_CACHE_LIMIT:
                self._similar.clear()
                self._ids.clear()
            self._similar[paper.id] = found
            self._ids[paper.id] = frozenset(found)
        return found

    def close(self, paper: Paper, threshold: float) -> tuple[tuple[str, float], ...]:
        """The indexed papers at least `threshold` alike `paper` (a short list, cached)."""
        key = (paper.id, threshold)
        found = self._close.get(key)
        if found is None:
            found = tuple(
                (pid, sim) for pid, sim in self.similar(paper).items() if sim >= threshold
            )
            if len(self._close) >= _SIM_CACHE_LIMIT:
                self._close.clear()
            self._close[key] = found
        return found

    def because(self, paper: Paper, *, rated: bool = True) -> str:
        """`because_liked(paper)`, worded once per run for all the readers who liked it."""
        if not rated:
            return because_like(paper)
        found = self._because.get(paper.id)
        if found is None:
            if len(self._because) >= _SIM_CACHE_LIMIT:
                self._because.clear()
            found = self._because[paper.id] = because_liked(paper)
        return found


def because_liked(paper: Paper) -> str:
    return f"{because_like(paper)}, which you rated up"


def because_like(paper: Paper) -> str:
    """Why a paper is in: like "X" (one of a topic's examples, or a paper rated up)."""
    title = " ".join(paper.title.split())
    if len(title) > _TITLE_LIMIT:
        title = title[: _TITLE_LIMIT - 1].rsplit(" ", 1)[0] + "…"
    return f'like "{title}"'


ScoreOf = Callable[[str], float]


def rerank(
    matches: Sequence[Match],
    ratings: Sequence[Rating],
    vectors: TextVectors,
    *,
    score_of: ScoreOf | None = None,
    examples: Sequence[tuple[str, Paper]] = (),
    upvotes: Sequence[int] | None = None,
    min_upvotes: int = 0,
    tuning: Tuning = DEFAULT_TUNING,
    limit: int | None = None,
) -> list[Match]:
    """The topics' `matches` (over `vectors`' papers, best first) moved by the reader's
    ratings, best first (score, then paper id), at most `limit`. `score_of(paper id)` is the
    topics' score of an indexed paper (0.0 when they miss it); `upvotes[i]` is indexed paper
    i's (for `min_upvotes`).
    `examples` are (topic name, paper) of topics given by example (`like = [...]`): they
    count as liked papers, and what they bring in names their topic.

    Rocchio's relevance feedback, with every threshold read off the reader's own ratings:

    - every match scores its topic score plus `rocchio` x (mean cosine to the liked papers -
      mean cosine to the disliked ones): the centroid form, by linearity of the dot product;
    - the reader's rated papers that the topics match are scored the same way (each left out
      of its own centroid); when every liked one outscores some disliked ones, the best of
      those disliked papers sets the reader's cut-off: a match scoring no more leaves (with
      fewer than `trusted` liked papers, only when its nearest rated paper is a disliked
      one). A reader whose ratings no cut-off separates keeps every match;
    - a match whose nearest rated paper is a disliked one (cosine >= `narrow`) leaves;
    - a paper the topics missed comes in when its nearest rated paper is a liked one (cosine
      >= `widen`), saying so: `like "X", which you rated up`. Rated-down papers never come.
    """
    liked = [r.paper for r in ratings if r.rating == "up"]
    disliked = [r.paper for r in ratings if r.rating == "down"]
    # a topic's examples (`like = [...]`) pull in their look-alikes as liked papers do
    topic_of = {paper.id: name for name, paper in examples}
    liked += [paper for _name, paper in examples if paper.id not in {p.id for p in liked}]
    if not liked and not disliked:
        return list(matches[:limit])
    known = vectors.similar_known  # the shared maps, without a call per rated paper
    up_maps = [known(p.id) or vectors.similar(p) for p in liked]
    down_maps = [known(p.id) or vectors.similar(p) for p in disliked]
    keys = vectors.neighbour_ids
    weight_up = tuning.rocchio / len(liked) if liked else 0.0
    weight_down = tuning.rocchio / len(disliked) if disliked else 0.0
    cut = _cut(liked, disliked, up_maps, down_maps, score_of, vectors, tuning) if liked else None
    narrow = tuning.narrow
    trusted = len(liked) >= tuning.trusted  # enough liked papers for the cut-off alone
    refused = {p.id for p in disliked}
    # (-score, paper id, Match): a new Match is made only for what is returned
    ranked: list[tuple[float, str, Match]] = []
    seen = {match.paper.id for match in matches}
    up_sum, up_best = _similarities(liked, up_maps, seen, keys)
    down_sum, down_best = _similarities(disliked, down_maps, seen, keys)
    for match in matches:
        pid = match.paper.id
        if pid in refused:
            continue
        score = match.score
        best_down = down_best.get(pid)
        if best_down is not None:
            if best_down >= narrow and best_down > up_best.get(pid, 0.0):
                continue  # more like something rated down than like anything rated up
            score -= weight_down * down_sum[pid]
        lifted = up_sum.get(pid)
        if lifted is not None:
            score += weight_up * lifted
        unlike = trusted or (best_down is not None and best_down > up_best.get(pid, 0.0))
        if cut is not None and score <= cut and unlike:
            continue  # below the reader's cut-off (and, with few liked papers, like a disliked one)
        ranked.append((-score, pid, match))
    closes = [vectors.close(paper, tuning.widen) for paper in liked]
    # A paper brought in scores at most `rocchio` x its best cosine to a liked paper: when the
    # matches already fill `limit` above that, none can place and none is looked for (per
    # reader, widening was most of the learned cost, bench/ratings_edition.py).
    ceiling = tuning.rocchio * max((close[0][1] for close in closes if close), default=0.0)
    if limit is not None and len(ranked) >= limit:
        ranked.sort()
        if -ranked[limit - 1][0] > ceiling:
            closes = []
    widened: dict[str, tuple[float, Paper]] = {}
    for paper, close in zip(liked, closes, strict=False):
        for pid, sim in close:  # close to a liked paper, not matched by the topics
            held = widened.get(pid)
            if pid not in seen and pid not in refused and (held is None or sim > held[0]):
                widened[pid] = (sim, paper)
    position, papers = vectors.position, vectors.papers
    for pid, (best_up, liked_paper) in widened.items():
        doc = position[pid]
        if upvotes is not None and min_upvotes > 0 and upvotes[doc] < min_upvotes:
            continue
        downs = [near.get(pid, 0.0) for near in down_maps]
        if downs and max(downs) >= best_up:
            continue
        up = sum(near.get(pid, 0.0) for near in up_maps)
        score = weight_up * up - weight_down * sum(downs)
        name = topic_of.get(liked_paper.id)
        because = (vectors.because(liked_paper, rated=name is None),)
        names = (name,) if name is not None else ()
        ranked.append((-score, pid, Match(papers[doc], score, names, (), because)))
    ranked.sort()
    return [
        match if match.score == -neg else Match(match.paper, -neg, *_rest(match))
        for neg, _pid, match in ranked[:limit]
    ]


def _similarities(
    rated: Sequence[Paper],
    maps: Sequence[dict[str, float]],
    seen: set[str],
    neighbours: Callable[[str], frozenset[str]],
) -> tuple[dict[str, float], dict[str, float]]:
    """Per match near any of `rated`: the sum and the best of its cosines to them. Per rated
    paper only the matches among its neighbours are visited (a set intersection in C): most
    matches are near no rated paper and keep their score."""
    total: dict[str, float] = {}
    best: dict[str, float] = {}
    for paper, near in zip(rated, maps, strict=True):
        for pid in seen & neighbours(paper.id):
            sim = near[pid]
            total[pid] = total.get(pid, 0.0) + sim
            if sim > best.get(pid, 0.0):
                best[pid] = sim
    return total, best


def _rest(match: Match) -> tuple[tuple[str, ...], tuple[MatchReason, ...], tuple[str, ...]]:
    return match.topics, match.matched, match.because


def _cut(
    liked: Sequence[Paper],
    disliked: Sequence[Paper],
    up_maps: Sequence[dict[str, float]],
    down_maps: Sequence[dict[str, float]],
    score_of: ScoreOf | None,
    vectors: TextVectors,
    tuning: Tuning,
) -> float | None:
    """The reader's own cut-off: the best score among the disliked papers that score below
    every liked one (each rated paper scored like a match, left out of its own centroid).
    None when there is nothing to separate: no topic scores, no disliked paper in the index,
    or every disliked paper scoring at least as well as some liked one."""
    if score_of is None or not disliked:
        return None

    def scored(pid: str, skip_up: int, skip_down: int) -> float | None:
        if pid not in vectors.position:
            return None
        base = score_of(pid)
        if base <= 0.0:
            return None
        ups = [m.get(pid, 0.0) for i, m in enumerate(up_maps) if i != skip_up]
        downs = [m.get(pid, 0.0) for i, m in enumerate(down_maps) if i != skip_down]
        up = sum(ups) / len(ups) if ups else 0.0
        down = sum(downs) / len(downs) if downs else 0.0
        return base + tuning.rocchio * (up - down)

    up_scores = [s for i, p in enumerate(liked) if (s := scored(p.id, i, -1)) is not None]
    if not up_scores:
        return None
    lowest = min(up_scores)
    below = [
        s for i, p in enumerate(disliked) if (s := scored(p.id, -1, i)) is not None and s < lowest
    ]
    return max(below) if below else None


def _order(match: Match) -> tuple[float, str]:
    return (-match.score, match.paper.id)
