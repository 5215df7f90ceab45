"""What the demo's customers write: varied support text with themes planted in it.

Everyday themes (log-in trouble, invoices, slow dashboards...) fill most tickets, each
written many ways. Two are planted for product ops to find: single sign-on, asked for by
large accounts and on no roadmap item (unaddressed demand with high ARR behind it), and
report exports timing out, rare before the demo starts and frequent in its live activity
(an emerging theme). Some signatures carry an e-mail address or phone number, as real
ones do, so the scrubbing shows.
"""

from __future__ import annotations

import random

__all__ = ["EMERGING", "EVERYDAY", "UNADDRESSED", "request_words"]

Phrasing = tuple[list[str], list[str]]  # subjects, bodies

EVERYDAY: dict[str, Phrasing] = {
    "login": (
        [
            "Can't log in",
            "Password reset link not working",
            "Locked out of my account",
            "Login loop after password change",
            "Two-factor code never arrives",
        ],
        [
            "I reset my password twice and still cannot sign in.",
            "The reset link in the email says it has expired as soon as I click it.",
            "After changing my password the login page just reloads.",
            "My account got locked after a few attempts and I need access today.",
            "The 2FA text message does not come through, so I am stuck at login.",
        ],
    ),
    "billing": (
        [
            "Question about our invoice",
            "Charged twice this month",
            "Need a VAT invoice",
            "Wrong amount on the invoice",
            "Change billing contact",
        ],
        [
            "Our last invoice shows two charges for the same seats.",
            "Finance needs the invoice with our VAT number on it.",
            "The invoice amount does not match the plan we signed.",
            "Please send future invoices to our accounts payable team.",
            "We were billed for users we removed last month.",
        ],
    ),
    "slow": (
        [
            "Dashboard is very slow",
            "Pages take forever to load",
            "Reports page keeps spinning",
            "Performance got worse this week",
            "Timeouts when opening projects",
        ],
        [
            "Loading the main dashboard takes more than thirty seconds for our team.",
            "Every page is sluggish since the weekend, especially the reports.",
            "The spinner never stops on the overview page.",
            "Opening a large project times out in the browser.",
            "Everything is slow in the afternoon when the whole office uses it.",
        ],
    ),
    "mobile": (
        [
            "App crashes on startup",
            "iOS app keeps closing",
            "Android app freezes",
            "Mobile app logs me out",
            "App crash when uploading a photo",
        ],
        [
            "The app closes right after the splash screen on my phone.",
            "Since the last update the iPhone app crashes when I open a task.",
            "On Android the app freezes and I have to force quit it.",
            "The mobile app signs me out every time I switch apps.",
            "Uploading a photo from the camera crashes the app.",
        ],
    ),
    "notifications": (
        [
            "Not getting email notifications",
            "Notifications stopped",
            "Too many notification emails",
            "Slack alerts not arriving",
            "Digest email missing",
        ],
        [
            "None of us receive the assignment emails any more.",
            "We stopped getting notifications about comments on Tuesday.",
            "I get a dozen emails for one change, can this be grouped?",
            "The Slack integration no longer posts alerts to our channel.",
            "The weekly digest email has not arrived for three weeks.",
        ],
    ),
    "permissions": (
        [
            "How do I give a colleague admin rights",
            "User roles question",
            "Guest cannot see project",
            "Remove a user who left",
            "Permission denied on shared board",
        ],
        [
            "I need to make a colleague an admin but the option is greyed out.",
            "Which role lets someone edit but not delete projects?",
            "Our contractor gets permission denied on the board we shared.",
            "An employee left and we need to remove their access now.",
            "A guest user cannot see the project even though it is shared.",
        ],
    ),
}

UNADDRESSED: Phrasing = (
    [
        "SAML single sign-on",
        "Do you support SSO with Okta?",
        "We need SSO before renewal",
        "Azure AD login for our staff",
        "SSO requirement from security",
    ],
    [
        "Security requires SAML single sign-on for every tool; without it we cannot renew.",
        "We want our staff to sign in through Okta instead of separate passwords.",
        "Is single sign-on with Azure Active Directory on your roadmap? It blocks our rollout.",
        "Please add SSO so we can enforce our identity provider's login policies.",
        "Procurement asks whether you offer SAML SSO and SCIM user provisioning.",
    ],
)

EMERGING: Phrasing = (
    [
        "Report export times out",
        "CSV export fails",
        "Scheduled export never arrives",
        "Export to Excel stuck",
        "Exporting reports broken",
    ],
    [
        "Exporting the monthly report to CSV times out after a minute.",
        "The export spinner runs forever and no file is downloaded.",
        "Our scheduled report export did not arrive this morning.",
        "Excel export gets stuck at ninety percent.",
        "Large report exports fail with a timeout error since yesterday.",
    ],
)

_SIGNATURES = ["", "", "", "\nThanks, Dana", "\nBest regards,\nLee (lee.marsh@example.com)",
               "\nCall me on +44 20 7946 0958 if easier.", "\nSent from my phone"]  # fmt: skip


def request_words(rng: random.Random, phrasing: Phrasing) -> tuple[str, str]:
    """A subject and a description in one of the theme's many wordings."""
    subjects, bodies = phrasing
    body = rng.choice(bodies)
    if rng.random() < 0.4:
        body += " " + rng.choice([b for b in bodies if b != body])
    return rng.choice(subjects), body + rng.choice(_SIGNATURES)
