"""Realistic demo data for ``offimizer-server serve --seed-demo``.

Three teams, a dozen agents and leads, ~40 customer organisations on the paid
plans and ~600 tickets of every priority, severity and status, spread over the
past four weeks, with requesters, tags, public replies, internal notes and a
full history (creation, assignment, first responses, pending periods, priority
changes, resolutions, closures).  Everything is generated from a seeded random
generator and an injected ``now``: the same seed and instant always give the
same data.

The history is placed in *business* time relative to ``now`` (the SLA
calendar's positions), so that whenever the demo starts, the clocks the ``sla``
engine replays from it show a lively queue: many met, some running, some at
risk, some breached, some paused on the customer.

Demo credentials (every account has the password :data:`DEMO_PASSWORD`,
``offimizer-demo``):

* ``agent`` — Lucas Bernard, agent of "Support N1";
* ``lead`` — Sophie Martin, team lead of "Support N1";
* ``lead-n2`` and ``lead-integrations`` — the other teams' leads;
* ``admin`` — Camille Rousseau, administrator (sees every team);
* the other agents by their first name in lower case without accents
  (``emma``, ``hugo``, ``chloe``, ``lea``, ``mathieu``, ``ines``, ``sara``, ``thomas``).

Rows are written with bulk inserts in one transaction, and every entity
(teams, organisations, users, tickets, comments, history entries) gets its
change-feed row, so a console syncing from an empty cursor receives it all.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from protocol import CommentOut, HistoryEntryOut, Role, TicketOut
from server import changes as feed
from server.models import ChangeLog, Comment, Organisation, Team, Ticket, TicketHistory, User
from server.security import hash_password
from server.service import create_organisation, create_team, create_user
from server.slaclock import SlaSettings, ensure_default_config, load_settings, ticket_sla
from sla.calendar import from_us, to_us

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_SEED",
    "DEMO_TICKETS",
    "DemoSummary",
    "Directory",
    "Step",
    "TicketPlan",
    "database_is_empty",
    "plan_tickets",
    "seed_demo",
    "write_tickets",
]

DEMO_PASSWORD: Final = "offimizer-demo"
DEMO_SEED: Final = 20260318
DEMO_TICKETS: Final = 600
#: How far back the oldest demo ticket goes (calendar days).
WINDOW_DAYS: Final = 26

_MINUTE: Final = 60_000_000
_HOUR: Final = 60 * _MINUTE
_CHUNK: Final = 1000

TEAMS: Final = ("Support N1", "Support N2", "Intégrations")

#: username, display name, role, teams (indices into TEAMS)
USERS: Final[tuple[tuple[str, str, Role, tuple[int, ...]], ...]] = (
    ("admin", "Camille Rousseau", Role.ADMIN, ()),
    ("lead", "Sophie Martin", Role.TEAM_LEAD, (0,)),
    ("agent", "Lucas Bernard", Role.AGENT, (0,)),
    ("emma", "Emma Dubois", Role.AGENT, (0,)),
    ("hugo", "Hugo Lefèvre", Role.AGENT, (0,)),
    ("chloe", "Chloé Moreau", Role.AGENT, (0,)),
    ("lead-n2", "Nicolas Girard", Role.TEAM_LEAD, (1,)),
    ("lea", "Léa Fontaine", Role.AGENT, (1,)),
    ("mathieu", "Mathieu Roux", Role.AGENT, (1, 2)),
    ("ines", "Inès Garcia", Role.AGENT, (1,)),
    ("lead-integrations", "Pieter Janssens", Role.TEAM_LEAD, (2,)),
    ("sara", "Sara Lindqvist", Role.AGENT, (2,)),
    ("thomas", "Thomas Weber", Role.AGENT, (2,)),
)

ORGANISATIONS: Final[tuple[tuple[str, str], ...]] = (
    ("Banque Populaire du Léman", "enterprise"),
    ("Groupe Hospitalier Saint-Roch", "enterprise"),
    ("Transports Garnier", "business"),
    ("Mairie de Villeurbanne", "business"),
    ("Boulangeries Delmas", "professional"),
    ("Assurances Mutuelles de l'Ouest", "enterprise"),
    ("Cabinet Lefort & Associés", "professional"),
    ("Laboratoires Vidal-Roche", "enterprise"),
    ("Éditions du Rhône", "business"),
    ("Clinique des Alpilles", "business"),
    ("Coopérative Agricole du Perche", "professional"),
    ("Hôtels Bellevue", "business"),
    ("SNCF Voyageurs — Direction Régionale", "enterprise"),
    ("Lycée Jean-Moulin", "professional"),
    ("Conseil Départemental de la Gironde", "enterprise"),
    ("Brasserie Artisanale de Lille", "professional"),
    ("Aéroport de Nantes Atlantique", "enterprise"),
    ("Pharmacies Réunies", "business"),
    ("Atelier Chaumont", "professional"),
    ("Fromageries Besnier-Duval", "business"),
    ("Studio Graphique Ocre", "professional"),
    ("Université de Bordeaux — DSI", "enterprise"),
    ("Logistique Mercier", "business"),
    ("Vignobles Castel-Arnaud", "professional"),
    ("Crédit Coopératif Alsacien", "enterprise"),
    ("Librairie Le Passage", "professional"),
    ("Groupe Immobilier Foncia-Est", "business"),
    ("Ville de Genève — Service informatique", "enterprise"),
    ("Architectes Perret & Fils", "professional"),
    ("Centre Hospitalier de Dax", "business"),
    ("Électricité Moulin", "professional"),
    ("Stellantis Site de Sochaux", "enterprise"),
    ("Maison Lenôtre Traiteur", "business"),
    ("Agence de Voyages Horizons", "professional"),
    ("Bureau Veritas Contrôles", "enterprise"),
    ("Auto-École Dupuis", "professional"),
    ("Réseau Santé Bretagne", "business"),
    ("Imprimerie Nationale de Lyon", "business"),
    ("Distillerie Combier", "professional"),
    ("Port Autonome de Marseille", "enterprise"),
)

FIRST_NAMES: Final = [
    "Julien",
    "Camille",
    "Manon",
    "Antoine",
    "Élodie",
    "Sébastien",
    "Claire",
    "Olivier",
    "Nathalie",
    "Pierre",
    "Amandine",
    "Frédéric",
    "Aurélie",
    "Vincent",
    "Laure",
    "Guillaume",
    "Céline",
    "Romain",
    "Isabelle",
    "Maxime",
    "Sandrine",
    "Yannick",
    "Marion",
    "Benoît",
    "Anaïs",
    "Karim",
    "Sofia",
    "Lars",
    "Greta",
    "Paolo",
    "Anke",
    "Joana",
    "Matteo",
]
LAST_NAMES: Final = [
    "Lambert",
    "Bonnet",
    "François",
    "Mercier",
    "Blanc",
    "Guérin",
    "Faure",
    "Chevalier",
    "Robin",
    "Gauthier",
    "Perrin",
    "Morel",
    "Fournier",
    "Girard",
    "André",
    "Lemoine",
    "Marchand",
    "Duval",
    "Benali",
    "Schmitt",
    "Meyer",
    "Caron",
    "Nguyen",
    "Rossi",
    "Van-Damme",
    "Müller",
    "Ferreira",
    "Colin",
    "Vasseur",
    "Leroy",
    "Brunet",
]

#: Per team: (subject, description, tags).
SUBJECTS: Final[tuple[tuple[tuple[str, str, tuple[str, ...]], ...], ...]] = (
    (  # Support N1
        (
            "Export PDF bloqué",
            "L'export PDF des factures reste bloqué à 0 % depuis ce matin. "
            "Le bouton « Exporter » ne réagit plus et aucun fichier n'est produit.",
            ("export", "pdf"),
        ),
        (
            "Impossible de se connecter via SSO",
            "Depuis la bascule de notre annuaire, les utilisateurs sont renvoyés sur la page "
            "de connexion après l'authentification SSO, sans message d'erreur.",
            ("sso", "authentification"),
        ),
        (
            "Lien de réinitialisation du mot de passe expiré",
            "Le lien reçu par e-mail pour réinitialiser le mot de passe indique « lien expiré » "
            "alors qu'il vient d'être envoyé.",
            ("mot-de-passe", "authentification"),
        ),
        (
            "Les notifications par e-mail n'arrivent plus",
            "Plus aucune notification n'est reçue depuis hier soir (nouvelles demandes, "
            "relances). Les spams ont été vérifiés.",
            ("notifications", "e-mail"),
        ),
        (
            "Lenteurs à l'ouverture du tableau de bord",
            "Le tableau de bord met plus de trente secondes à s'afficher le matin, "
            "pour tous les postes du site.",
            ("performance", "tableau-de-bord"),
        ),
        (
            "Erreur 500 lors de l'ajout d'une pièce jointe",
            "L'ajout d'une pièce jointe de plus de 5 Mo provoque une erreur 500. "
            "Les petits fichiers passent.",
            ("pieces-jointes", "erreur-500"),
        ),
        (
            "Question sur la facturation annuelle",
            "Nous souhaitons passer d'une facturation mensuelle à annuelle : "
            "quelles sont les modalités et la date d'effet ?",
            ("facturation", "question"),
        ),
        (
            "Ajout de licences utilisateurs",
            "Merci d'ajouter quinze licences à notre abonnement pour l'arrivée "
            "d'une nouvelle équipe lundi.",
            ("licences", "commercial"),
        ),
        (
            "Accents mal affichés dans les exports CSV",
            "Les caractères accentués apparaissent sous la forme « Ã© » dans Excel "
            "après un export CSV.",
            ("export", "csv", "encodage"),
        ),
        (
            "Compte utilisateur verrouillé",
            "Un collaborateur a saisi trop de mauvais mots de passe ; son compte est "
            "verrouillé et il ne peut plus travailler.",
            ("compte", "authentification"),
        ),
        (
            "Impossible d'imprimer les bons de livraison",
            "L'impression des bons de livraison ouvre une page blanche. "
            "Le problème touche tous les navigateurs.",
            ("impression",),
        ),
        (
            "Le calendrier partagé ne se synchronise plus",
            "Les rendez-vous créés dans l'application n'apparaissent plus dans Outlook "
            "depuis la dernière mise à jour.",
            ("calendrier", "synchronisation"),
        ),
        (
            "Application mobile : écran blanc au démarrage",
            "Sur Android 14, l'application reste sur un écran blanc après le logo. "
            "La réinstallation n'y change rien.",
            ("mobile", "android"),
        ),
        (
            "Signature électronique refusée",
            "Les documents signés électroniquement sont rejetés avec le message "
            "« certificat non reconnu ».",
            ("signature", "certificat"),
        ),
    ),
    (  # Support N2
        (
            "Temps de réponse dégradés sur la base de données",
            "Les requêtes de recherche prennent plusieurs secondes depuis la migration "
            "de la nuit dernière ; les utilisateurs se plaignent de lenteurs générales.",
            ("performance", "base-de-donnees"),
        ),
        (
            "Perte de données après la mise à jour 4.2",
            "Des fiches clients modifiées vendredi ont retrouvé leur état antérieur "
            "après la mise à jour 4.2.",
            ("donnees", "mise-a-jour"),
        ),
        (
            "Doublons dans le module de facturation",
            "Certaines factures apparaissent deux fois avec le même numéro, "
            "ce qui bloque l'export comptable.",
            ("facturation", "doublons"),
        ),
        (
            "Service indisponible : erreur 503 sur tout le portail",
            "Le portail renvoie une erreur 503 pour tous les utilisateurs. "
            "Activité totalement arrêtée.",
            ("indisponibilite", "erreur-503"),
        ),
        (
            "Fuite mémoire du serveur de rapports",
            "Le service de génération de rapports consomme toute la mémoire en quelques "
            "heures et doit être redémarré chaque jour.",
            ("rapports", "memoire"),
        ),
        (
            "Les sauvegardes nocturnes échouent",
            "Le journal des sauvegardes indique « échec de l'instantané » depuis trois nuits.",
            ("sauvegarde",),
        ),
        (
            "Certificat TLS expiré sur l'environnement de recette",
            "Le certificat de recette a expiré ce matin : les navigateurs bloquent l'accès.",
            ("certificat", "tls", "recette"),
        ),
        (
            "Calcul de TVA erroné sur les avoirs",
            "Les avoirs émis depuis le 1er du mois appliquent un taux de TVA de 20 % "
            "au lieu de 5,5 %.",
            ("facturation", "tva"),
        ),
        (
            "Délai d'expiration lors des imports volumineux",
            "L'import d'un fichier de 200 000 lignes échoue après dix minutes "
            "avec un délai d'expiration.",
            ("import", "performance"),
        ),
        (
            "Écart entre le stock et les commandes",
            "Le stock affiché ne tient plus compte des commandes validées depuis mardi.",
            ("stock", "synchronisation"),
        ),
        (
            "Tâche planifiée bloquée depuis vendredi",
            "La relance automatique des impayés n'a pas tourné depuis vendredi ; "
            "elle apparaît « en cours » sans progresser.",
            ("taches-planifiees",),
        ),
        (
            "Rapport mensuel vide",
            "Le rapport d'activité du mois dernier est généré sans aucune ligne.",
            ("rapports",),
        ),
    ),
    (  # Intégrations
        (
            "Webhook de facturation en erreur 401",
            "Les appels du webhook vers notre ERP échouent avec une erreur 401 "
            "depuis le renouvellement de la clé.",
            ("webhook", "api"),
        ),
        (
            "API REST : quota dépassé de façon inattendue",
            "L'API répond 429 alors que nous sommes loin du quota contractuel "
            "de 100 000 appels par jour.",
            ("api", "quota"),
        ),
        (
            "Connecteur SAP : échec de l'import des commandes",
            "Le connecteur SAP rejette les commandes contenant plus de 99 lignes.",
            ("sap", "connecteur"),
        ),
        (
            "Synchronisation Salesforce interrompue",
            "Les comptes créés dans Salesforce ne remontent plus depuis lundi.",
            ("salesforce", "connecteur"),
        ),
        (
            "Jeton OAuth 2.0 refusé par l'API",
            "Le jeton obtenu par le flux « client credentials » est refusé "
            "(invalid_token) dès le premier appel.",
            ("oauth", "api"),
        ),
        (
            "Fichiers SFTP non récupérés",
            "Les fichiers déposés sur le serveur SFTP ne sont plus collectés depuis lundi matin.",
            ("sftp", "echanges"),
        ),
        (
            "Mapping des champs personnalisés incorrect",
            "Les champs personnalisés « centre de coût » et « projet » sont inversés "
            "dans le flux sortant.",
            ("mapping", "connecteur"),
        ),
        (
            "Demande d'accès à l'API de recette",
            "Merci de créer un accès à l'API de recette pour notre prestataire.",
            ("api", "recette", "acces"),
        ),
        (
            "Format de date incorrect dans le flux XML",
            "Les dates du flux XML sont au format JJ/MM/AAAA au lieu de ISO 8601.",
            ("xml", "format"),
        ),
        (
            "Annuaire LDAP : utilisateurs non synchronisés",
            "Les nouveaux arrivants créés dans l'annuaire n'apparaissent pas dans l'application.",
            ("ldap", "annuaire"),
        ),
        (
            "Configuration SAML pour Azure AD",
            "Nous souhaitons activer l'authentification SAML avec Azure AD : "
            "quelles métadonnées fournir ?",
            ("saml", "sso"),
        ),
        (
            "Intégration Microsoft Teams : messages en double",
            "Chaque notification est publiée deux fois dans le canal Teams.",
            ("teams", "notifications"),
        ),
    ),
)

CONTEXTS: Final = (
    "Plusieurs utilisateurs sont concernés.",
    "Le problème est apparu après la mise à jour du week-end.",
    "C'est bloquant pour notre clôture mensuelle.",
    "Nous avons déjà vidé le cache du navigateur, sans effet.",
    "Une capture d'écran est jointe au message d'origine.",
    "Demande reçue par téléphone.",
    "Demande transmise par e-mail au support.",
    "Le site de Lyon est touché, pas celui de Paris.",
    "",
)

NOTES: Final = (
    "Reproduit sur l'environnement de recette.",
    "Journaux applicatifs récupérés, analyse en cours.",
    "Voir le ticket similaire de la semaine dernière, même cause probable.",
    "Contournement communiqué par téléphone en attendant le correctif.",
    "Correctif prévu dans la version 4.3.",
    "Escaladé à l'éditeur du connecteur, référence fournisseur en attente.",
    "Client rappelé : l'impact est confirmé sur toute l'équipe comptable.",
    "Vérifié avec l'équipe réseau : aucun incident côté infrastructure.",
)

_WEIGHTS_PRIORITY: Final = (("P1", 6), ("P2", 20), ("P3", 50), ("P4", 24))
_WEIGHTS_SEVERITY: Final = (("blocking", 12), ("major", 38), ("minor", 50))
_WEIGHTS_STATUS: Final = (
    ("new", 12),
    ("open", 33),
    ("pending", 12),
    ("resolved", 15),
    ("closed", 28),
)
_WEIGHTS_TEAM: Final = ((0, 50), (1, 30), (2, 20))


# -- plans: what the demo writes, independent of the database -------------------


@dataclass
class Step:
    """One change of a ticket (one version): history fields, maybe a comment first."""

    at: dt.datetime
    actor_id: int | None
    fields: list[tuple[str, str | None, str | None]]
    comment: tuple[str, bool] | None = None  # body, public


@dataclass
class TicketPlan:
    """A ticket as it ends up, and the steps that made it (the first one creates it)."""

    subject: str
    description: str
    requester_name: str
    requester_email: str
    organisation_id: int
    plan: str
    priority: str
    severity: str
    status: str
    team_id: int
    assignee_id: int | None
    tags: list[str]
    created_by_id: int | None
    steps: list[Step] = field(default_factory=list)

    @property
    def created_at(self) -> dt.datetime:
        return self.steps[0].at


@dataclass(frozen=True)
class DemoSummary:
    teams: int
    users: int
    organisations: int
    tickets: int
    comments: int
    history: int
    changes: int


@dataclass(frozen=True)
class Directory:
    """Ids of what the tickets refer to."""

    teams: list[int]
    members: dict[int, list[int]]  # team id -> agent ids
    leads: dict[int, int]  # team id -> lead id
    organisations: list[tuple[int, str, str]]  # id, name, plan


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in "-.")).lower()


def _domain(organisation: str) -> str:
    words = [_ascii(word) for word in organisation.split()]
    words = [word for word in words if len(word) > 2 and word not in ("des", "les", "du", "de")]
    return "-".join(words[:2]) + ".fr"


class _Planner:
    """Builds ticket plans in business time relative to ``now``."""

    def __init__(
        self, rng: random.Random, settings: SlaSettings, now: dt.datetime, directory: Directory
    ) -> None:
        self.rng = rng
        self.policy = settings.policy
        self.calendar = settings.calendar
        self.zone = self.calendar.zone
        self.now_us = to_us(now)
        self.now_pos = self.calendar.position_us(self.now_us)
        floor = self.calendar.position_us(to_us(now - dt.timedelta(days=WINDOW_DAYS)))
        self.span = max(self.now_pos - floor, 8 * _HOUR)  # business time available
        self.directory = directory

    # -- helpers ----------------------------------------------------------------

    def at(self, position: int) -> dt.datetime:
        """The instant of a business position (whole seconds), never after now."""
        micros = min(self.calendar.locate_us(max(position, 0)), self.now_us)
        return from_us(micros - micros % 1_000_000, dt.UTC)

    def fraction(self, low: float, high: float, of: int) -> int:
        return int(self.rng.uniform(low, high) * of)

    def clock_elapsed(self, target: int, risk: int, outcome: str, cap: int) -> int:
        """Business time elapsed on a running clock for the outcome wanted (bounded by cap)."""
        rng = self.rng
        if outcome == "breached" and target * 1.1 < cap:
            return min(int(target * rng.uniform(1.1, 3.0)), cap)
        if outcome in ("breached", "at_risk") and target - risk // 8 < cap:
            return target - int(risk * rng.uniform(0.15, 0.85))
        safe = max(target - risk - 10 * _MINUTE, target // 20)
        return min(int(safe * rng.uniform(0.05, 0.95)), cap)

    # -- one ticket -------------------------------------------------------------

    def ticket(self, priority: str, severity: str, status: str) -> TicketPlan:
        rng = self.rng
        directory = self.directory
        team_index = _pick(rng, _WEIGHTS_TEAM)
        team_id = directory.teams[team_index]
        subject, description, tags = rng.choice(SUBJECTS[team_index])
        context = rng.choice(CONTEXTS)
        organisation_id, organisation, plan = rng.choice(directory.organisations)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{_ascii(first)}.{_ascii(last)}@{_domain(organisation)}"
        agents = directory.members[team_id]
        lead = directory.leads[team_id]
        assignee = rng.choice(agents)
        creator = rng.choice([lead, *agents])
        initial_priority = priority
        if rng.random() < 0.12:  # re-prioritized at triage
            initial_priority = rng.choice([p for p, _ in _WEIGHTS_PRIORITY if p != priority])
        ticket = TicketPlan(
            subject=subject,
            description=f"{description} {context}".strip(),
            requester_name=f"{first} {last.replace('-', ' ')}",
            requester_email=email,
            organisation_id=organisation_id,
            plan=plan,
            priority=priority,
            severity=severity,
            status=status,
            team_id=team_id,
            assignee_id=None,
            tags=sorted(tags),
            created_by_id=creator,
        )
        rules = self.policy.rules(plan, priority, severity)
        span = self.span
        # positions of the life's milestones, relative to creation
        steps: list[tuple[int, int | None, list[tuple[str, str | None, str | None]], Any]] = []
        respond_at: int | None = None
        gap: tuple[int, int, str] | None = None  # pending (or resolved) from, to, kind
        end_at: int | None = None  # resolved or closed
        if status == "new":
            outcome = _pick(rng, (("running", 45), ("at_risk", 30), ("breached", 25)))
            cap = span * 9 // 10
            total = self.clock_elapsed(rules.response, rules.response_risk, outcome, cap)
        else:
            # first response: met mostly, sometimes late
            late = rng.random() < 0.2
            respond = self.fraction(1.05, 2.0, rules.response) if late else 0
            respond = respond or self.fraction(0.1, 0.9, rules.response)
            if status in ("open", "pending"):
                weights: tuple[tuple[str, int], ...] = (
                    (("running", 45), ("at_risk", 25), ("breached", 30))
                    if status == "open"
                    else (("running", 85), ("breached", 15))
                )
                outcome = _pick(rng, weights)
                cap = span * 9 // 10
                worked = self.clock_elapsed(rules.resolution, rules.resolution_risk, outcome, cap)
                worked = max(worked, 20 * _MINUTE)
                respond_at = min(respond, worked * 6 // 10)
                if status == "pending":
                    room = max(span - worked, _MINUTE)
                    since = min(self.fraction(0.05, 3.0, 9 * _HOUR), self.fraction(0.3, 0.95, room))
                    total = worked + since
                    gap = (worked, total, "pending")
                else:
                    total = worked
                    if rng.random() < 0.3 and worked + 2 * _HOUR < span:
                        room = span - worked
                        length = min(
                            self.fraction(0.2, 2.5, 9 * _HOUR), self.fraction(0.3, 0.95, room)
                        )
                        start = respond_at + (worked - respond_at) * rng.randint(2, 8) // 10
                        kind = "resolved" if rng.random() < 0.25 else "pending"
                        gap = (start, start + length, kind)
                        total = worked + length
            else:  # resolved or closed
                late_fix = rng.random() < 0.2
                worked = self.fraction(1.05, 1.8, rules.resolution) if late_fix else 0
                worked = worked or self.fraction(0.15, 0.95, rules.resolution)
                worked = max(worked, 30 * _MINUTE)
                pending = self.fraction(0.2, 2.0, 9 * _HOUR) if rng.random() < 0.3 else 0
                if status == "resolved":
                    after = self.fraction(0.03, 1.9, 9 * _HOUR)
                else:
                    after = self.fraction(0.1, 2.0, 9 * _HOUR)
                needed = worked + pending + after
                if needed > span:  # too long a life for the window: squeeze it
                    scale = span / needed * 0.95
                    worked, pending, after = (int(v * scale) for v in (worked, pending, after))
                respond_at = min(respond, worked * 6 // 10)
                if pending:
                    start = respond_at + (worked - respond_at) * rng.randint(2, 8) // 10
                    gap = (start, start + pending, "pending")
                end_at = worked + pending
                if status == "closed":
                    slack = span - (worked + pending + after)
                    total = end_at + after + (rng.randrange(slack) if slack > 0 else 0)
                else:
                    total = end_at + after
        created = self.now_pos - min(total, span)
        if created < 0:  # pragma: no cover - a calendar whose horizon starts now
            created = 0

        # -- the steps, in business positions (offsets from creation) --
        def add(offset: int, actor: int | None, fields: Any, comment: Any = None) -> None:
            steps.append((offset, actor, fields, comment))

        assigned = status != "new" or rng.random() < 0.5
        triage = self.fraction(0.02, 0.15, respond_at or max(total, _MINUTE))
        if initial_priority != priority:
            add(triage, lead, [("priority", initial_priority, priority)])
        if assigned:
            assigner = lead if rng.random() < 0.6 else assignee
            add(triage + _MINUTE, assigner, [("assignee", None, str(assignee))])
            ticket.assignee_id = assignee
        responder = assignee if assigned else lead
        first_name = first
        if respond_at is not None:
            add(
                respond_at,
                responder,
                [("responded", None, "reply")],
                (
                    f"Bonjour {first_name}, merci pour votre message. Nous avons bien pris en "
                    "compte votre demande et revenons vers vous dès que possible.",
                    True,
                ),
            )
            add(respond_at + _MINUTE, responder, [("status", "new", "open")])
            if rng.random() < 0.6:
                note_at = respond_at + (total - respond_at) // 3
                if gap is None or not gap[0] <= note_at <= gap[1]:
                    add(note_at, responder, [], (rng.choice(NOTES), False))
        elif status == "new" and rng.random() < 0.3:
            add(total // 2, lead, [], (rng.choice(NOTES), False))
        if gap is not None:
            start, stop, kind = gap
            if kind == "pending":
                add(
                    start,
                    responder,
                    [],
                    (
                        f"Bonjour {first_name}, pourriez-vous nous transmettre une capture "
                        "d'écran et l'heure approximative du problème ? Nous mettons la "
                        "demande en attente de votre retour.",
                        True,
                    ),
                )
                add(start + _MINUTE, responder, [("status", "open", "pending")])
                if stop < total:  # the customer answered
                    add(
                        stop,
                        responder,
                        [],
                        ("Le client a répondu par e-mail avec les éléments demandés.", False),
                    )
                    add(stop + _MINUTE, responder, [("status", "pending", "open")])
            else:  # resolved too early: reopened by the customer
                add(
                    start,
                    responder,
                    [],
                    (
                        f"Bonjour {first_name}, le correctif est en place : pouvez-vous "
                        "confirmer que tout fonctionne ?",
                        True,
                    ),
                )
                add(start + _MINUTE, responder, [("status", "open", "resolved")])
                add(stop, responder, [], ("Le client signale que le problème persiste.", False))
                add(stop + _MINUTE, responder, [("status", "resolved", "open")])
        if rng.random() < 0.25 and respond_at is not None:
            tag = rng.choice(("escalade", "rappel-client", "bug-confirme", "vip"))
            if tag not in ticket.tags:
                add(respond_at + 2 * _MINUTE, responder, [("tag_added", None, tag)])
                ticket.tags = sorted([*ticket.tags, tag])
        if end_at is not None:
            add(
                end_at - _MINUTE,
                responder,
                [],
                (
                    f"Bonjour {first_name}, le correctif a été déployé et le fonctionnement "
                    "est rétabli. N'hésitez pas à nous recontacter si le problème réapparaît.",
                    True,
                ),
            )
            add(end_at, responder, [("status", "open", "resolved")])
            if status == "closed":
                close_at = end_at + (total - end_at) // 3 if total > end_at else end_at
                if rng.random() < 0.5:
                    add(
                        close_at,
                        None,
                        [],
                        (
                            "Clôture automatique : aucune réponse du client "
                            "sous deux jours ouvrés.",
                            False,
                        ),
                    )
                    add(close_at + _MINUTE, None, [("status", "resolved", "closed")])
                else:
                    add(close_at, responder, [], ("Le client confirme la résolution.", False))
                    add(close_at + _MINUTE, responder, [("status", "resolved", "closed")])

        # -- to instants: creation first, the rest in order, a minute apart at least --
        steps.sort(key=lambda step: step[0])
        created_fields = {
            "status": "new",
            "priority": initial_priority,
            "severity": severity,
            "plan": plan,
            "team_id": team_id,
            "assignee_id": None,
            "tags": sorted(tags),
        }
        ticket.steps.append(
            Step(
                self.at(created),
                creator,
                [("created", None, json.dumps(created_fields, sort_keys=True))],
            )
        )
        previous = created
        for offset, by, changed, comment in steps:
            position = max(created + offset, previous + _MINUTE)
            position = min(position, self.now_pos)
            previous = position
            ticket.steps.append(Step(self.at(position), by, changed, comment))
        return ticket


def _duplicate(planner: _Planner, ticket: TicketPlan, earlier: TicketPlan) -> None:
    """Make ``ticket`` a duplicate of ``earlier``, closed by the lead without a reply."""
    created = ticket.steps[0]
    initial = json.loads(created.fields[0][2] or "{}")
    at = created.at + dt.timedelta(minutes=planner.rng.randint(5, 90))
    at = min(at, planner.at(planner.now_pos))
    lead = planner.directory.leads[ticket.team_id]
    day = earlier.created_at.astimezone(planner.zone)
    ticket.steps = [
        created,
        Step(at, lead, [], (f"Doublon de la demande « {earlier.subject} » du {day:%d/%m}.", False)),
        Step(at, lead, [("tag_added", None, "doublon")]),
        Step(at, lead, [("status", "new", "closed")]),
    ]
    ticket.status = "closed"
    ticket.assignee_id = None
    ticket.priority = initial["priority"]
    ticket.tags = sorted({*initial["tags"], "doublon"})


def plan_tickets(
    directory: Directory,
    settings: SlaSettings,
    now: dt.datetime,
    *,
    seed: int = DEMO_SEED,
    count: int = DEMO_TICKETS,
) -> list[TicketPlan]:
    """The demo tickets, oldest first (a pure function of its arguments)."""
    rng = random.Random(seed)
    planner = _Planner(rng, settings, now, directory)
    combos = [(p, s) for p, _ in _WEIGHTS_PRIORITY for s, _ in _WEIGHTS_SEVERITY]
    statuses = [s for s, _ in _WEIGHTS_STATUS]
    tickets: list[TicketPlan] = []
    for index in range(count):
        if index < 2 * len(combos) * len(statuses) and index < count // 2:
            # every priority x severity in every status, then the natural mix
            priority, severity = combos[index % len(combos)]
            status = statuses[(index // len(combos)) % len(statuses)]
        else:
            priority = _pick(rng, _WEIGHTS_PRIORITY)
            severity = _pick(rng, _WEIGHTS_SEVERITY)
            status = _pick(rng, _WEIGHTS_STATUS)
        tickets.append(planner.ticket(priority, severity, status))
    tickets.sort(key=lambda ticket: ticket.created_at)
    # a few closed tickets were duplicates of an earlier request
    for position, ticket in enumerate(tickets):
        if ticket.status == "closed" and position > 0 and rng.random() < 0.1:
            earlier = tickets[rng.randrange(position)]
            _duplicate(planner, ticket, earlier)
    return tickets


# -- writing -----------------------------------------------------------------------


def _insert_returning_ids(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        statement = insert(model).returning(model.id, sort_by_parameter_order=True)
        ids.extend(session.scalars(statement, chunk).all())
    return ids


def write_tickets(
    session: Session, plans: Sequence[TicketPlan], settings: SlaSettings, now: dt.datetime
) -> tuple[int, int, int]:
    """Insert the tickets, their comments and history, and their change-feed rows.

    ``plans`` must be oldest first (tracking numbers follow creation order).
    Returns the number of comments, history entries and change-feed rows written.
    """
    if not plans:
        return 0, 0, 0
    # tracking numbers, per year of creation
    per_year: dict[int, int] = {}
    for plan in plans:
        year = plan.created_at.astimezone(dt.UTC).year
        per_year[year] = per_year.get(year, 0) + 1
    next_number = {
        year: feed.take(session, f"tracking:{year}", count) for year, count in per_year.items()
    }
    ticket_rows: list[dict[str, Any]] = []
    for plan in plans:
        year = plan.created_at.astimezone(dt.UTC).year
        number = next_number[year]
        next_number[year] += 1
        ticket_rows.append(
            {
                "tracking_number": f"INC-{year}-{number:06d}",
                "subject": plan.subject,
                "description": plan.description,
                "requester_name": plan.requester_name,
                "requester_email": plan.requester_email,
                "organisation_id": plan.organisation_id,
                "priority": plan.priority,
                "severity": plan.severity,
                "status": plan.status,
                "team_id": plan.team_id,
                "assignee_id": plan.assignee_id,
                "tags": list(plan.tags),
                "version": len(plan.steps),
                "created_by_id": plan.created_by_id,
                "created_at": plan.created_at,
                "updated_at": plan.steps[-1].at,
            }
        )
    ticket_ids = _insert_returning_ids(session, Ticket, ticket_rows)

    comment_rows: list[dict[str, Any]] = []
    for ticket_id, plan in zip(ticket_ids, plans, strict=True):
        for step in plan.steps:
            if step.comment is not None:
                body, public = step.comment
                comment_rows.append(
                    {
                        "ticket_id": ticket_id,
                        "author_id": step.actor_id,
                        "body": body,
                        "public": public,
                        "created_at": step.at,
                    }
                )
    comment_ids = iter(_insert_returning_ids(session, Comment, comment_rows))

    history_rows: list[dict[str, Any]] = []
    for ticket_id, plan in zip(ticket_ids, plans, strict=True):
        for version, step in enumerate(plan.steps, start=1):
            entries = list(step.fields)
            if step.comment is not None:
                kind = "reply" if step.comment[1] else "note"
                entries.insert(0, (kind, None, str(next(comment_ids))))
            for name, before, after in entries:
                history_rows.append(
                    {
                        "ticket_id": ticket_id,
                        "version": version,
                        "actor_id": step.actor_id,
                        "at": step.at,
                        "field": name,
                        "before": before,
                        "after": after,
                    }
                )
    history_ids = _insert_returning_ids(session, TicketHistory, history_rows)

    # the change feed: per ticket, the ticket then its comments then its history
    comments_by_ticket: dict[int, list[dict[str, Any]]] = {}
    comment_id_list = [
        int(row["after"]) for row in history_rows if row["field"] in ("reply", "note")
    ]
    for comment_id, row in zip(comment_id_list, comment_rows, strict=True):
        comments_by_ticket.setdefault(row["ticket_id"], []).append({"id": comment_id, **row})
    history_by_ticket: dict[int, list[TicketHistory]] = {}
    for history_id, row in zip(history_ids, history_rows, strict=True):
        history_by_ticket.setdefault(row["ticket_id"], []).append(
            TicketHistory(id=history_id, **row)
        )
    change_rows: list[dict[str, Any]] = []
    group_sizes: list[int] = []  # each ticket's rows are one group of the feed

    def change(entity: str, entity_id: int, team_id: int, data: dict[str, Any]) -> None:
        change_rows.append(
            {
                "entity": entity,
                "entity_id": entity_id,
                "op": "upsert",
                "team_id": team_id,
                "data": data,
                "at": now,
            }
        )

    for ticket_id, row in zip(ticket_ids, ticket_rows, strict=True):
        first_row = len(change_rows)
        history = history_by_ticket[ticket_id]
        team_id = row["team_id"]
        ticket = TicketOut(id=ticket_id, **row, sla=ticket_sla(history, settings, now))
        change("ticket", ticket_id, team_id, ticket.model_dump(mode="json"))
        for comment in comments_by_ticket.get(ticket_id, []):
            data = CommentOut.model_validate(comment).model_dump(mode="json")
            change("comment", comment["id"], team_id, data)
        for entry in history:
            data = HistoryEntryOut.model_validate(entry, from_attributes=True).model_dump(
                mode="json"
            )
            change("history", entry.id, team_id, data)
        group_sizes.append(len(change_rows) - first_row)
    seq = feed.take(session, feed.FEED_COUNTER, len(change_rows))
    rows = iter(change_rows)
    for size in group_sizes:
        end = seq + size - 1 if size > 1 else None
        for row in itertools.islice(rows, size):
            row["seq"], row["group_end"] = seq, end
            seq += 1
    for start in range(0, len(change_rows), _CHUNK):
        session.execute(insert(ChangeLog), change_rows[start : start + _CHUNK])
    return len(comment_rows), len(history_rows), len(change_rows)


def database_is_empty(session: Session) -> bool:
    """No user, team, organisation or ticket yet (a fresh database)."""
    for model in (User, Team, Organisation, Ticket):
        if session.scalar(select(func.count()).select_from(model)):
            return False
    return True


def _directory(
    session: Session, now: dt.datetime, password_hash: str
) -> tuple[Directory, feed.ChangeSet]:
    changes = feed.ChangeSet()
    team_ids = [create_team(session, changes, name).id for name in TEAMS]
    organisations = [
        (create_organisation(session, changes, name, plan).id, name, plan)
        for name, plan in ORGANISATIONS
    ]
    members: dict[int, list[int]] = {team_id: [] for team_id in team_ids}
    leads: dict[int, int] = {}
    for username, display_name, role, teams in USERS:
        first, _space, last = display_name.partition(" ")
        user = create_user(
            session,
            changes,
            now,
            username=username,
            role=role,
            password_hash=password_hash,
            display_name=display_name,
            email=f"{_ascii(first)}.{_ascii(last)}@offimizer.example",
            team_ids=[team_ids[index] for index in teams],
        )
        for index in teams:
            if role == Role.TEAM_LEAD:
                leads[team_ids[index]] = user.id
            else:
                members[team_ids[index]].append(user.id)
    return Directory(team_ids, members, leads, organisations), changes


def seed_demo(
    session: Session,
    now: dt.datetime,
    *,
    seed: int = DEMO_SEED,
    tickets: int = DEMO_TICKETS,
    password_hash: str | None = None,
) -> DemoSummary:
    """Fill an empty database with the demo data, in the caller's transaction.

    Raises :class:`ValueError` when the database already holds data.
    ``password_hash`` (of :data:`DEMO_PASSWORD`) saves the bcrypt round.
    """
    if not database_is_empty(session):
        raise ValueError("the database already holds data")
    ensure_default_config(session, now)
    settings = load_settings(session)
    directory, changes = _directory(session, now, password_hash or hash_password(DEMO_PASSWORD))
    changes.publish(session, now)
    plans = plan_tickets(directory, settings, now, seed=seed, count=tickets)
    comments, history, _written = write_tickets(session, plans, settings, now)
    return DemoSummary(
        teams=len(TEAMS),
        users=len(USERS),
        organisations=len(ORGANISATIONS),
        tickets=len(plans),
        comments=comments,
        history=history,
        changes=session.scalar(select(func.count()).select_from(ChangeLog)) or 0,
    )
