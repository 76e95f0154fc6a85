"""The plugin's tables, one module per concern, all importable from here.

Which module may write which rows is said in each module's docstring; points
themselves change only through ``oscar_loyalty.ledger`` (rule 1 of the design).
"""

from .awards import BonusCampaign, PendingAward
from .bonus import Birthday, BonusAction, GuestOrderCredit
from .coupons import BrandExclusion
from .figures import DailyExpiry, DailyPoints
from .ledger import Account, LedgerEntry, LotConsumption, PointsLot, Shortfall
from .notifications import MarketingConsent, SentMessage
from .privacy import DataRequest, ImportRejection, ImportRun
from .redemption import OwnerCondition, PointsBenefit, Redemption, Reward
from .referrals import Referral, ReferralCode
from .segments import Segment, SegmentCondition, WinBackCampaign, WinBackCoupon
from .tiers import Tier, TierChange, TierCondition, TierStatus

__all__ = [
    "Account",
    "Birthday",
    "BonusAction",
    "BonusCampaign",
    "BrandExclusion",
    "DailyExpiry",
    "DailyPoints",
    "DataRequest",
    "ImportRejection",
    "ImportRun",
    "GuestOrderCredit",
    "LedgerEntry",
    "LotConsumption",
    "MarketingConsent",
    "OwnerCondition",
    "PendingAward",
    "PointsBenefit",
    "PointsLot",
    "Redemption",
    "Referral",
    "ReferralCode",
    "Reward",
    "Segment",
    "SegmentCondition",
    "SentMessage",
    "Shortfall",
    "Tier",
    "TierChange",
    "TierCondition",
    "TierStatus",
    "WinBackCampaign",
    "WinBackCoupon",
]
