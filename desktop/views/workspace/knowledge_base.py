"""The workspace's knowledge-base tab: search the cached articles, insert a link to one
in the reply."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.models.ticket_detail import Article, search_articles
from i18n import _

__all__ = ["KnowledgeBasePage"]


class KnowledgeBasePage(QWidget):
    """A search box, the matching articles, a preview of the one selected."""

    def __init__(
        self,
        articles: Callable[[], Iterable[dict[str, Any]]],
        insert_link: Callable[[str], bool],
        parent: QWidget | None = None,
    ) -> None:
        """``articles``: the cached articles; ``insert_link``: puts a link in the reply
        (False when there is no reply to put it in)."""
        super().__init__(parent)
        self._cached_articles = articles
        self._insert_link = insert_link
        self.search_box = QLineEdit()
        self.search_box.setObjectName("kb-search")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.textChanged.connect(lambda _t: self.search())
        self.search_box.returnPressed.connect(self._return_pressed)
        self.results = QListWidget()
        self.results.setObjectName("kb-results")
        self.results.setAlternatingRowColors(True)
        # two results at least (not Qt's 70 px): the workspace fits under the workload
        self.results.setMinimumHeight(
            self.results.fontMetrics().lineSpacing() * 2 + 2 * self.results.frameWidth() + 4
        )
        self.results.itemActivated.connect(lambda _item: self.insert_article())
        self.results.currentRowChanged.connect(lambda _r: self._selection_changed())
        self.insert_button = QPushButton()
        self.insert_button.setObjectName("kb-insert")
        self.insert_button.clicked.connect(lambda _c=False: self.insert_article())
        self.preview = QLabel()
        self.preview.setObjectName("kb-preview")
        self.preview.setWordWrap(True)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.search_box)
        results = QHBoxLayout()
        results.addWidget(self.results, 3)
        side = QVBoxLayout()
        side.addWidget(self.preview, 1)
        side.addWidget(self.insert_button)
        results.addLayout(side, 2)
        layout.addLayout(results, 1)
        self._articles: list[Article] = []

    def retranslate(self) -> None:
        self.search_box.setPlaceholderText(_("Search the knowledge base (Ctrl+K)"))
        self.search_box.setAccessibleName(_("Search the knowledge base"))
        self.results.setAccessibleName(_("Knowledge-base articles"))
        self.preview.setAccessibleName(_("Article preview"))
        self.insert_button.setText(_("&Insert link in reply"))
        self.insert_button.setAccessibleName(_("Insert link in reply"))

    def focus(self) -> None:
        """The search box, its text selected to be typed over, and its results."""
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()
        self.search()

    def search(self) -> list[Article]:
        try:
            articles = self._cached_articles()
        except Exception:  # a corrupt row must not break the workspace
            articles = ()
        self._articles = search_articles(articles, self.search_box.text())
        self.results.clear()
        for article in self._articles:
            item = QListWidgetItem(article.title)
            item.setToolTip(", ".join(article.tags))
            self.results.addItem(item)
        if self._articles:
            self.results.setCurrentRow(0)
        else:
            self.preview.setText(_("No article matches.") if self.search_box.text() else "")
        self.insert_button.setEnabled(bool(self._articles))
        return list(self._articles)

    def _selection_changed(self) -> None:
        row = self.results.currentRow()
        if 0 <= row < len(self._articles):
            article = self._articles[row]
            body = article.body if len(article.body) <= 400 else article.body[:400] + "…"
            self.preview.setText(f"{article.title}\n\n{body}")

    def _return_pressed(self) -> None:
        if self._articles:
            self.insert_article()

    def insert_article(self) -> bool:
        """Insert the selected article's link into the reply at the cursor."""
        row = self.results.currentRow()
        if not 0 <= row < len(self._articles):
            return False
        return self._insert_link(self._articles[row].link)
