"""The demo's words: teams, people, customer organisations, and what tickets say.

French, as the customers of the contract write; names and addresses are made up.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from protocol import Role

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


def slug(text: str) -> str:
    """``text`` as the lower-case ASCII of an e-mail address: accents and spaces dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in "-.")).lower()


def domain(organisation: str) -> str:
    """A made-up e-mail domain for ``organisation``, from its first two significant words."""
    words = [slug(word) for word in organisation.split()]
    words = [word for word in words if len(word) > 2 and word not in ("des", "les", "du", "de")]
    return "-".join(words[:2]) + ".fr"
