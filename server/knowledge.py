"""The knowledge base: articles (title, body, tags) that everyone reads and searches.

Team leads and admins write them.  Every change goes into the change feed
(entity ``article``, visible to all; a deletion is a tombstone).

Search works the same on SQLite and PostgreSQL: each article keeps a folded copy
of its text (lower case, accents removed: ``Réseau`` matches ``reseau``); the
query is cut into words, the database keeps the articles that contain every
word (``LIKE`` on the folded text, by prefix or inside a word), and the
candidates are ranked here: a word in the title counts most, then a tag, then
the body, a whole-word match more than a partial one, and the whole phrase in
the title more still.  Ties go to the most recently updated article.
"""

import datetime as dt
import re
import unicodedata
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from protocol import (
    API_PREFIX,
    ArticleHit,
    ArticleIn,
    ArticleOut,
    ArticlePage,
    ArticleSearchPage,
)
from server import changes as feed
from server.announcements import MAX_ID, require_lead
from server.db import locked, transaction
from server.errors import not_found
from server.models import Article, User
from server.router_context import RouterContext

#: Words of a query used at most (the rest are ignored).
MAX_QUERY_WORDS: Final = 12
#: Articles ranked at most for one search.
MAX_CANDIDATES: Final = 5000
SNIPPET: Final = 160
_WORD = re.compile(r"[^\W_]+")

ArticleId = Annotated[int, Path(ge=1, le=MAX_ID)]


def fold(text: str) -> str:
    """Lower case without accents: ``Écran Réseau`` -> ``ecran reseau``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    found: list[str] = []
    for word in _WORD.findall(fold(text)):
        if word not in found:
            found.append(word)
    return found[:MAX_QUERY_WORDS]


def search_text(title: str, body: str, tags: list[str]) -> str:
    return "\n".join((fold(title), " ".join(fold(tag) for tag in tags), fold(body)))


def article_out(row: Article) -> ArticleOut:
    return ArticleOut.model_validate(row, from_attributes=True)


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _count(word: str, text: str) -> tuple[int, int]:
    """(whole-word matches, partial matches) of ``word`` in folded ``text``."""
    whole = partial = 0
    for token in _WORD.findall(text):
        if token == word:
            whole += 1
        elif word in token:
            partial += 1
    return whole, partial


def score(row: Article, query: list[str], phrase: str) -> float:
    title = fold(row.title)
    tags = [fold(tag) for tag in row.tags]
    body = fold(row.body)
    total = 0.0
    for word in query:
        whole, partial = _count(word, title)
        total += 10.0 * whole + 5.0 * partial
        total += sum(6.0 if tag == word else 3.0 for tag in tags if word in tag)
        whole, partial = _count(word, body)
        total += min(whole + 0.5 * partial, 5.0)  # a long article does not win by length
    if len(query) > 1 and phrase in title:
        total += 10.0
    return total


def snippet(row: Article, query: list[str]) -> str:
    body = " ".join(row.body.split())
    folded = fold(body)
    positions = [p for p in (folded.find(word) for word in query) if p >= 0]
    if len(folded) != len(body) or not positions:  # folding changed offsets: the start
        start = 0
    else:
        start = max(0, min(positions) - SNIPPET // 4)
    text = body[start : start + SNIPPET]
    return ("…" if start else "") + text + ("…" if start + SNIPPET < len(body) else "")


def search(
    session: Session, query: str, tag: str | None, offset: int, limit: int
) -> ArticleSearchPage:
    terms = words(query)
    candidates = select(Article)
    for term in terms:
        candidates = candidates.where(Article.search_text.like(_like(term), escape="\\"))
    rows = list(session.scalars(candidates.order_by(Article.id).limit(MAX_CANDIDATES)))
    if tag:
        rows = [row for row in rows if tag in row.tags]
    phrase = " ".join(terms)
    ranked = sorted(
        ((score(row, terms, phrase), row) for row in rows),
        key=lambda pair: (-pair[0], -pair[1].updated_at.timestamp(), pair[1].id),
    )
    page = ranked[offset : offset + limit]
    return ArticleSearchPage(
        query=query,
        items=[
            ArticleHit(article=article_out(row), score=round(value, 3), snippet=snippet(row, terms))
            for value, row in page
        ],
        total=len(ranked),
        offset=offset,
        limit=limit,
    )


def _publish(changes: feed.ChangeSet, row: Article) -> ArticleOut:
    out = article_out(row)
    changes.add("article", row.id, out.model_dump(mode="json"), team_id=None)
    return out


def create_article(
    session: Session, changes: feed.ChangeSet, user: User, body: ArticleIn, now: dt.datetime
) -> ArticleOut:
    require_lead(user)
    tags = sorted(set(body.tags))
    row = Article(
        title=body.title,
        body=body.body,
        tags=tags,
        search_text=search_text(body.title, body.body, tags),
        created_by_id=user.id,
        updated_by_id=user.id,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(row)
    session.flush()
    return _publish(changes, row)


def _locked(session: Session, article_id: int) -> Article:
    row = locked(session, Article, article_id)
    if row is None:
        raise not_found()
    return row


def update_article(
    session: Session,
    changes: feed.ChangeSet,
    user: User,
    article_id: int,
    body: ArticleIn,
    now: dt.datetime,
) -> ArticleOut:
    require_lead(user)
    row = _locked(session, article_id)
    tags = sorted(set(body.tags))
    row.title = body.title
    row.body = body.body
    row.tags = tags
    row.search_text = search_text(body.title, body.body, tags)
    row.updated_by_id = user.id
    row.updated_at = now
    row.version += 1
    session.flush()
    return _publish(changes, row)


def delete_article(session: Session, changes: feed.ChangeSet, user: User, article_id: int) -> None:
    require_lead(user)
    row = _locked(session, article_id)
    session.delete(row)
    session.flush()
    changes.add("article", article_id, None, team_id=None, op="delete")


def make_router(context: RouterContext) -> APIRouter:
    factory, clock, authenticate = context.factory, context.clock, context.authenticate
    router = APIRouter(prefix=f"{API_PREFIX}/articles", tags=["knowledge base"])
    Token = Annotated[str, Depends(context.bearer)]
    Offset = Annotated[int, Query(ge=0, le=1_000_000)]
    Limit = Annotated[int, Query(ge=1, le=200)]

    @router.get("", response_model=ArticlePage)
    def articles(
        token: Token,
        tag: Annotated[str | None, Query(max_length=40)] = None,
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> ArticlePage:
        """Every article (optionally with ``tag``), the most recently updated first."""
        with transaction(factory) as session:
            authenticate(session, token)
            query = select(Article)
            if tag:
                # JSON containment differs between databases: filter the tags here
                rows = [r for r in session.scalars(query) if tag.lower() in r.tags]
                rows.sort(key=lambda r: (-r.updated_at.timestamp(), -r.id))
                total = len(rows)
                rows = rows[offset : offset + limit]
            else:
                total = session.scalar(select(func.count()).select_from(Article)) or 0
                rows = list(
                    session.scalars(
                        query.order_by(Article.updated_at.desc(), Article.id.desc())
                        .offset(offset)
                        .limit(limit)
                    )
                )
            return ArticlePage(
                items=[article_out(row) for row in rows], total=total, offset=offset, limit=limit
            )

    @router.get("/search", response_model=ArticleSearchPage)
    def search_articles(
        token: Token,
        q: Annotated[str, Query(max_length=500, description="words to find")],
        tag: Annotated[str | None, Query(max_length=40)] = None,
        offset: Offset = 0,
        limit: Limit = 20,
    ) -> ArticleSearchPage:
        """Articles containing every word of ``q`` (accents and case ignored), best first."""
        with transaction(factory) as session:
            authenticate(session, token)
            return search(session, q, tag.lower() if tag else None, offset, limit)

    @router.get("/{article_id}", response_model=ArticleOut)
    def article(token: Token, article_id: ArticleId) -> ArticleOut:
        with transaction(factory) as session:
            authenticate(session, token)
            row = session.get(Article, article_id)
            if row is None:
                raise not_found()
            return article_out(row)

    @router.post("", response_model=ArticleOut, status_code=201)
    def new_article(token: Token, body: ArticleIn) -> ArticleOut:
        now = clock()
        with transaction(factory) as session:
            user = authenticate(session, token)
            changes = feed.ChangeSet()
            out = create_article(session, changes, user, body, now)
            changes.publish(session, now)
        return out

    @router.put("/{article_id}", response_model=ArticleOut)
    def edit_article(token: Token, article_id: ArticleId, body: ArticleIn) -> ArticleOut:
        now = clock()
        with transaction(factory) as session:
            user = authenticate(session, token)
            changes = feed.ChangeSet()
            out = update_article(session, changes, user, article_id, body, now)
            changes.publish(session, now)
        return out

    @router.delete("/{article_id}", status_code=204)
    def remove_article(token: Token, article_id: ArticleId) -> Response:
        now = clock()
        with transaction(factory) as session:
            user = authenticate(session, token)
            changes = feed.ChangeSet()
            delete_article(session, changes, user, article_id)
            changes.publish(session, now)
        return Response(status_code=204)

    return router
