"""The fixed shape of the synthetic organisation: services, channels, models, places.

Figures follow DOMAIN.md §5 (ticket mix, channel shares, resolution times by priority).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    service_id: str
    service_name: str
    owner: str
    business_services: tuple[str, ...]
    weight: float  # share of ticket volume
    request_share: float  # share of tickets that are sc_req_item
    scope_cohort: int  # 0 = pilot; later cohorts join the XM scope four weeks apart
    happiness_penalty: float = 0.0  # extra probability of a 0-6 answer
    sla_boost: float = 1.0  # < 1 resolves faster than priority alone implies
    # ServiceNow's out-of-the-box incident categories; requests carry "request".
    incident_category: str = "inquiry"


# SVC03 is the watermelon (WATERMELON_SERVICE): fastest fixes (SLA almost always met) and
# unhappy users.
# SVC04 carries the incident storm (see STORM_*).
# Incident categories: `hardware` only for SVC01, the service of the devices the telemetry
# watches (printers and phones are not in it), `network`, `software` for the applications and
# `inquiry` (ServiceNow's "Inquiry / Help") for the rest.
SERVICES: tuple[Service, ...] = (
    Service(
        "SVC01",
        "Workplace Devices",
        "End User Computing",
        ("Laptop Support", "Desktop Support"),
        0.16,
        0.45,
        0,
        incident_category="hardware",
    ),
    Service(
        "SVC02",
        "Email and Calendar",
        "Collaboration",
        ("Email", "Outlook"),
        0.10,
        0.30,
        0,
        incident_category="software",
    ),
    Service(
        "SVC03",
        "Identity and Access",
        "Security Operations",
        ("Access Management", "Password Reset"),
        0.12,
        0.60,
        0,
        0.22,
        0.35,
    ),
    Service(
        "SVC04",
        "Network and VPN",
        "Infrastructure",
        ("VPN", "Wi-Fi", "Network"),
        0.09,
        0.20,
        1,
        incident_category="network",
    ),
    Service(
        "SVC05",
        "Collaboration Tools",
        "Collaboration",
        ("Microsoft Teams", "SharePoint"),
        0.09,
        0.35,
        1,
        incident_category="software",
    ),
    Service("SVC06", "Printing", "End User Computing", ("Printing",), 0.05, 0.30, 1),
    Service(
        "SVC07",
        "ERP",
        "Business Applications",
        ("SAP ERP",),
        0.08,
        0.40,
        2,
        incident_category="software",
    ),
    Service(
        "SVC08",
        "CRM",
        "Business Applications",
        ("Salesforce",),
        0.06,
        0.40,
        2,
        incident_category="software",
    ),
    Service(
        "SVC09",
        "HR Self-Service",
        "Business Applications",
        ("Workday",),
        0.05,
        0.55,
        2,
        incident_category="software",
    ),
    Service("SVC10", "Mobile Devices", "End User Computing", ("Mobile Phones",), 0.06, 0.50, 3),
    Service(
        "SVC11",
        "Software Requests",
        "End User Computing",
        ("Software Install",),
        0.09,
        0.85,
        3,
        incident_category="software",
    ),
    Service("SVC12", "Service Desk General", "Service Desk", ("Service Desk",), 0.05, 0.40, 3),
)
WATERMELON_SERVICE = "SVC03"
# A business service the catalog does not know, worked by a team no mapping rule names: its
# tickets must land in `unmapped`, counted.
UNMAPPED_BUSINESS_SERVICE = "Legacy Fax"
UNMAPPED_ASSIGNMENT_GROUP = "Legacy Telephony"
UNMAPPED_SHARE = 0.01
# The team that works each service's tickets (ServiceNow's assignment_group).
ASSIGNMENT_GROUPS = {
    "SVC01": "EUC Field Services",
    "SVC02": "Messaging",
    "SVC03": "IAM Operations",
    "SVC04": "Network Operations",
    "SVC05": "Collaboration Support",
    "SVC06": "Print Services",
    "SVC07": "ERP Support",
    "SVC08": "CRM Support",
    "SVC09": "HR Systems",
    "SVC10": "Mobility",
    "SVC11": "Software Packaging",
    "SVC12": "Service Desk",
}
# Many instances leave the business service empty on part of their tickets (agents skip it);
# the XMO maps those by the team that worked them (service_mapping_rules by assignment group).
EMPTY_BUSINESS_SERVICE_SHARE = 0.15

STORM_SERVICE = "SVC04"
STORM_DAYS = 21  # ending with the newest complete week (generator.storm_days)
STORM_VOLUME_FACTOR = 2.5
# Storm tickets take this many times longer to resolve (and each is reassigned once more).
STORM_RESOLUTION_FACTOR = 1.8
# Extra chance of a 0-6 answer on a storm ticket: with the storm's slower, more reassigned fixes
# the service falls from about +65 to about -25, a drop the weekly changes find even in a week
# whose draw is kind (at +0.18 a storm week could score +40 and pass as noise).
STORM_UNHAPPY = 0.45

# (contact_type as ServiceNow sends it, share): DOMAIN §5 portal 40-50 %, phone 25-35 %, email
# 10-20 %, chat 5-10 %, walk-in 2-5 %, and non-standard values 5-10 % (here 7 %).
CONTACT_TYPES: tuple[tuple[str, float], ...] = (
    ("self-service", 0.43),
    ("phone", 0.27),
    ("email", 0.13),
    ("chat", 0.07),
    ("walk-in", 0.03),
    ("Teams", 0.03),
    ("Virtual Agent", 0.02),
    ("Tech Cafe", 0.01),
    ("IM", 0.01),
)
# The chat channel improves over the timeline: its extra unhappiness falls from this to zero.
CHAT_START_PENALTY = 0.15

# DOMAIN §5: P3 70-90 %, P1 1-2 %; business-hours MTTR about 4 h (P1), 8 h (P2), 1-2 days (P3),
# 2-4 days (P4), with a business day of 9 h (business_hours). SLAs run on the same clock and
# sit 2-3x the median, so 5-15 % of tickets miss theirs (DOMAIN §4).
PRIORITIES: tuple[tuple[str, float, float, float], ...] = (
    # (priority, share, median business hours to resolve, SLA business hours)
    ("1", 0.015, 4.0, 8.0),
    ("2", 0.08, 8.0, 24.0),
    ("3", 0.78, 13.5, 36.0),
    ("4", 0.10, 27.0, 72.0),
    ("5", 0.025, 45.0, 144.0),
)

DEPARTMENTS = ("Finance", "HR", "Sales", "Operations", "R&D", "Legal", "Marketing", "IT")
LOCATIONS: tuple[tuple[str, str], ...] = (
    ("Helsinki", "FI"),
    ("Berlin", "DE"),
    ("Paris", "FR"),
    ("London", "GB"),
    ("New York", "US"),
    ("Bangalore", "IN"),
)
JOB_ROLES = ("Analyst", "Engineer", "Manager", "Specialist", "Assistant", "Consultant")
LANGUAGES: tuple[tuple[str, float], ...] = (("en", 0.7), ("de", 0.1), ("fr", 0.1), ("fi", 0.1))

# (model, device_type, share, median boot s, app crash rate per day); app freezes come at
# FREEZES_PER_CRASH times the crash rate.
DEVICE_MODELS: tuple[tuple[str, str, float, float, float], ...] = (
    ("Latitude 5440", "laptop", 0.30, 38.0, 0.10),
    ("EliteBook 840 G9", "laptop", 0.25, 42.0, 0.12),
    ("ThinkPad T14 Gen 3", "laptop", 0.15, 35.0, 0.08),
    # The slow HDD model: boots 3-4x slower, as Intune reports for HDD machines.
    ("OptiPlex 3050 HDD", "desktop", 0.10, 140.0, 0.20),
    ("OptiPlex 7010", "desktop", 0.10, 40.0, 0.09),
    ("Citrix VDI", "virtual", 0.10, 25.0, 0.15),
    # A handful of executives' machines: so few that most departments hold one or two of them,
    # the cells the journey marts must not expose.
    ("MacBook Pro 14", "laptop", 0.002, 30.0, 0.05),
)
SLOW_DISK_MODEL = "OptiPlex 3050 HDD"
RARE_MODEL = "MacBook Pro 14"
# Sign-in waits on the disk too: the HDD model's median sign-in is this many times the others'
# (about 60 s against 28 s, where Flexxible flags a sign-in, DOMAIN §3), which puts its month
# in the `fair` DEX band, and in `poor` where the bad client also crashes it.
SLOW_DISK_LOGON_FACTOR = 2.2
# ... and old HDD machines page to disk: memory saturation at this many times the others' (a
# quarter of the time on average against a tenth).
SLOW_DISK_MEMORY_FACTOR = 2.5
FREEZES_PER_CRASH = 1.5
# A bad client version rolled out to one site for a few weeks: crashes multiply there.
BAD_CLIENT_LOCATION = "Berlin"
BAD_CLIENT_VERSION = "Windows 11 23H2 (build 22631.4890)"
BAD_CLIENT_START_FRACTION = 0.3
# Six weeks, so that one calendar month spends most of its days on the bad client: its worst
# machines (the HDD model) then have a `poor` DEX month.
BAD_CLIENT_DAYS = 42
BAD_CLIENT_CRASH_FACTOR = 6.0

# Device health drives device incidents and the time lost on tickets; the marts find the link
# in the data, never here. No source publishes its size: we size the effects like DOMAIN's
# per-reassignment ones (-7 points, +106 min lost): a poor device about doubles its user's
# device incidents and adds from under an hour to a few hours to each of their tickets.
# A device incident's caller is drawn in proportion to
#   (1 + CRASH_TICKET_WEIGHT * expected crashes and freezes a day) * SLOW_DISK_TICKET_FACTOR
# (the second factor on the slow-disk model only). At 2.0 a good laptop (0.20-0.30 crashes and
# freezes a day) weighs 1.4-1.6 and the bad client, whose crashes multiply by six, takes it to
# about 4: two to three times the device incidents for its six weeks ("any crash or hang
# counts", DOMAIN §3).
# Callers are reweighted, no tickets added: the site's extra share those weeks comes out of
# the other sites' device incidents.
CRASH_TICKET_WEIGHT = 2.0
# The HDD model boots 3-4x slower (Intune, DOMAIN §3); with its own higher crash rate it weighs
# 4.0, 2.5 times a good laptop: its users call about a slow machine as often as a crashing one.
# Part of every device incident's weight goes to the bad client's site for six weeks, so the
# `fair` device months (nearly all on this model) draw less than that: at 1.5 they drew only
# 1.42-1.54x the hardware tickets of `good` months over five demo-sized organisations, at 1.7
# 1.50-1.66x; "about doubles" needs 2.
SLOW_DISK_TICKET_FACTOR = 2.0
# Lost time a caller reports on a ticket while their device is poor (the slow-disk model, or
# the bad client running). Every restart, update and re-image of a device fix takes 3-4x longer
# on an HDD: we take half of that, x2, on their device incidents (DOMAIN's ~3 h incident becomes
# ~6 h); x1.3 on their other tickets, whose restarts and remote sessions wait on the device too
# (about +55 min, half a reassignment's +106 min).
POOR_DEVICE_HARDWARE_LOST_TIME_FACTOR = 2.0
POOR_DEVICE_LOST_TIME_FACTOR = 1.3

PROACTIVE_TOPICS = (
    "overall_it",
    "laptop",
    "remote_work",
    "collaboration_tools",
    "enterprise_apps",
    "service_portal",
)
POSITIVE_FACTORS = (
    "speed_of_service",
    "staff_attitude",
    "staff_skills",
    "kept_informed",
    "issue_solved",
    "learned_something",
)
NEGATIVE_FACTORS = (
    "slow_service",
    "had_to_explain_again",
    "not_kept_informed",
    "issue_not_solved",
    "hard_to_use",
    "staff_attitude_poor",
)
