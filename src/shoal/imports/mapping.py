"""Which customer field each column of an import file fills, and how a cell becomes that field's value.

Headers match standard fields by name or label (English or 简体中文, plus common spellings such as 手机号码)
and custom fields by key or label, ignoring case and surrounding spaces. The user may remap any column
(``{"header": "field key"}``, ``""`` to ignore it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import translation
from django.utils.translation import gettext

from shoal.core.errors import ShoalError
from shoal.customers import cleaning, identity
from shoal.customers import standard as S
from shoal.customers.models import Customer, CustomerGender, CustomerStatus, CustomField

# Standard fields an import may fill (the company is chosen by id elsewhere).
IMPORTABLE = tuple(n for n in S.names(writable=True) if n not in ("company_id",))
# pools (MGM): the inviting customer, given by its customer id or mobile (an unknown inviter is a row error)
INVITED_BY = "invited_by_id"
UNIQUE = ("mobile", "email", "ent_user_id")
# Other spellings seen in customers' spreadsheets (compared case-insensitively, spaces removed).
ALIASES = {
    "name": ("姓名", "客户名称", "客户姓名", "名称", "名字", "fullname", "full name", "customer name"),
    "mobile": ("手机", "手机号", "手机号码", "手機", "手機號", "手機號碼", "行動電話", "移动电话", "mobile phone", "cellphone", "cell phone", "mobile number"),
    "phone": ("电话", "固定电话", "座机", "電話", "市話", "telephone", "tel"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "郵箱", "電子郵件", "電郵", "e-mail", "mail"),
    "ent_user_id": ("外部id", "用户id", "企业用户id", "external id", "user id", "ent user id"),
    "gender": ("性别", "性別", "sex"),
    "birthday": ("生日", "出生日期", "birth date", "date of birth", "dob"),
    "city": ("城市", "所在城市", "所在城市"),
    "qq": ("qq号", "qq号码"),
    "wechat": ("微信", "微信号", "weixin"),
    "source": ("来源", "客户来源", "來源"),
    "customer_type": ("客户类型", "类型"),
    "lifecycle_stage": ("生命周期", "生命周期阶段"),
    "status": ("状态",),
    "notes": ("备注", "備註", "note", "remark", "remarks"),
    "registered_at": ("注册时间", "注册日期", "registration time"),
    "avatar_url": ("头像", "avatar"),
    "telegram": ("tg",),
    INVITED_BY: ("invited_by", "inviter", "邀请人", "推荐人", "邀请人id", "邀请人手机号", "邀請人"),
}
_GENDERS = {"male": "male", "m": "male", "男": "male", "先生": "male", "female": "female", "f": "female",
            "女": "female", "女士": "female"}


def _norm(text: str) -> str:
    return "".join(str(text).split()).casefold()


@dataclass(frozen=True)
class Target:
    key: str  # a standard field's name or a custom field's key
    label: str
    custom: CustomField | None = None

    @property
    def unique(self) -> bool:
        return self.custom is None and self.key in UNIQUE


def targets() -> list[Target]:
    """The fields an import may fill, standard first (labels in the current language)."""
    out = [Target(name, str(Customer._meta.get_field(name).verbose_name)) for name in IMPORTABLE + (INVITED_BY,)]
    out += [Target(d.key, d.label, d) for d in CustomField.objects.filter(enabled=True).order_by("id")]
    return out


def _spellings(target: Target) -> set[str]:
    names = {target.key, target.label}
    if target.custom is None:
        verbose = Customer._meta.get_field(target.key).verbose_name
        for language in ("en", "zh-hans"):
            with translation.override(language):
                names.add(str(verbose))
        names.update(ALIASES.get(target.key, ()))
    return {_norm(n) for n in names if n}


@dataclass
class Mapping:
    header: list[str]
    columns: list[Target | None]  # per column of the file
    unknown: list[str] = field(default_factory=list)  # headers that match no field (ignored)
    ignored: list[str] = field(default_factory=list)  # headers the user chose to ignore, or a field's second column

    def described(self) -> list[dict]:
        return [{"index": i, "header": h, "field": t.key if t else "", "field_label": t.label if t else ""}
                for i, (h, t) in enumerate(zip(self.header, self.columns, strict=True))]


def build_mapping(header: list[str], overrides: dict | None = None) -> Mapping:
    """Match each header to a field; ``overrides`` ({header: key or ""}) win. A field filled by two columns
    is an error when the user chose it twice; matched automatically, the first column keeps it."""
    available = targets()
    by_key = {t.key: t for t in available}
    by_spelling: dict[str, Target] = {}
    for t in available:  # custom labels after standard ones: a standard field keeps its own words
        for spelling in _spellings(t):
            by_spelling.setdefault(spelling, t)
    overrides = {str(k).strip(): v for k, v in (overrides or {}).items()}
    mapping = Mapping(header=list(header), columns=[])
    taken: dict[str, str] = {}
    for text in header:
        head = str(text).strip()
        if head in overrides:
            chosen = overrides[head]
            if chosen in (None, ""):
                mapping.columns.append(None)
                mapping.ignored.append(head)
                continue
            target = by_key.get(str(chosen))
            if target is None:
                raise ShoalError("unknown_field", gettext("Column %(header)s: unknown field %(field)s")
                                 % {"header": head, "field": chosen}, {"header": head, "field": chosen})
            if target.key in taken:
                raise ShoalError("duplicate_mapping", gettext("Columns %(a)s and %(b)s both fill %(field)s")
                                 % {"a": taken[target.key], "b": head, "field": target.label},
                                 {"field": target.key, "headers": [taken[target.key], head]})
        else:
            target = by_spelling.get(_norm(head)) if head else None
            if target is None:
                mapping.columns.append(None)
                if head:
                    mapping.unknown.append(head)
                continue
            if target.key in taken:
                mapping.columns.append(None)
                mapping.ignored.append(head)
                continue
        taken[target.key] = head
        mapping.columns.append(target)
    if not any(t is not None and t.key in identity.identity_fields() for t in mapping.columns):
        fields = [by_key[f].label for f in identity.identity_fields() if f in by_key]
        raise ShoalError("no_identity_column", gettext("No column identifies customers: the file needs one of %(fields)s")
                         % {"fields": ", ".join(fields)}, {"fields": list(identity.identity_fields())})
    return mapping


# -- cell conversion --------------------------------------------------------------------------------------
_MISSING = object()


def converter(target: Target, cache: dict) -> Callable[[str], object]:
    """A function turning a cell (a non-blank string) into the stored value, or raising ShoalError.
    Values repeat (cities, genders, sources, dates): answers are remembered per column, up to a bound."""
    convert = _raw_converter(target, cache)
    if target.unique or target.key in ("name", "notes", "phone", "qq", "wechat") or (
            target.custom is not None and target.custom.type in ("text", "long_text", "phone", "email", "url")):
        return convert
    seen: dict[str, object] = {}

    def remembered(raw: str):
        hit = seen.get(raw, _MISSING)
        if hit is _MISSING:
            try:
                hit = convert(raw)
            except ShoalError as exc:
                hit = exc
            if len(seen) < 20000:
                seen[raw] = hit
        if isinstance(hit, ShoalError):
            raise ShoalError(hit.code, hit.message)
        return hit
    remembered.seen = seen  # read directly by the column-at-a-time classification
    return remembered


def _raw_converter(target: Target, cache: dict) -> Callable[[str], object]:
    key = target.key
    if target.custom is not None:
        definition = target.custom
        if definition.type == "enum":
            return _enum_converter(lambda raw: cleaning.coerce_custom_value(definition, raw, cache=cache),
                                   definition.enum_group_id)
        return lambda raw: cleaning.coerce_custom_value(definition, raw, cache=cache)
    if key == INVITED_BY:
        return _inviter_converter()
    if key == "mobile":
        region = identity.default_region()

        def mobile(raw: str) -> str:
            return identity.normalise_mobile(raw, region=region)
        mobile.plain_mobile = region == "CN"  # 11 plain digits: identity.cn_mobile_fast_path() decides
        return mobile
    if key == "email":
        return identity.normalise_email
    if key == "ent_user_id":
        return identity.normalise_ent_user_id
    if key == "gender":
        labels = {_norm(label): value for value, label in CustomerGender.choices if value}
        for language in ("en", "zh-hans"):
            with translation.override(language):
                labels.update({_norm(str(label)): value for value, label in CustomerGender.choices if value})

        def gender(raw: str) -> str:
            value = _GENDERS.get(_norm(raw)) or labels.get(_norm(raw))
            if value is None:
                raise ShoalError("invalid_value", gettext("gender: expected male or female (男/女)"))
            return value
        return gender
    if key == "status":
        labels = {}
        for language in ("en", "zh-hans"):
            with translation.override(language):
                labels.update({_norm(str(label)): value for value, label in CustomerStatus.choices})
        labels.update({value: value for value in CustomerStatus.values})

        def status(raw: str) -> str:
            value = labels.get(_norm(raw))
            if value is None:
                raise ShoalError("invalid_value", gettext("status: expected one of %(choices)s")
                                 % {"choices": ", ".join(str(label) for _, label in CustomerStatus.choices)})
            return value
        return status
    if key in ("birthday", "registered_at"):
        def when(raw: str):
            value = cleaning.clean_standard({key: _date_text(raw)}, cache=cache)[key]
            return value
        return when
    if key in ("name", "notes", "city", "qq", "wechat"):
        limit = cleaning.TEXT_LIMITS.get(key, 255)

        def text(raw: str) -> str:  # what clean_standard does for plain text, without its per-call set-up
            value = raw.strip()
            if len(value) > limit:
                raise ShoalError("invalid_value", gettext("%(field)s: at most %(limit)s characters")
                                 % {"field": key, "limit": limit})
            return value
        return text
    if key in cleaning.STANDARD_ENUMS:
        group_id = cleaning._standard_enum_groups().get(key)
        return _enum_converter(lambda raw: cleaning.clean_standard({key: raw}, cache=cache)[key], group_id)
    return lambda raw: cleaning.clean_standard({key: raw}, cache=cache)[key]


def _inviter_converter() -> Callable[[str], object]:
    """The inviter's customer id: the cell is a customer's mobile (looked up first) or id. Answers are kept per
    column: a file where a few inviters bring many customers looks each up once."""
    answers: dict[str, int] = {}

    def inviter(raw: str) -> int:
        value = raw.strip()
        if value in answers:
            return answers[value]
        answers[value] = pk = _inviter_of(value)
        return pk
    return inviter


def _inviter_of(value: str) -> int:
    mobile = identity.try_normalise_mobile(value) if any(c.isdigit() for c in value) else None
    if mobile:
        pk = Customer.objects.filter(mobile=mobile).values_list("pk", flat=True).first()
        if pk is not None:
            return pk
    if value.isdigit() and len(value) <= 18:
        pk = Customer.objects.filter(pk=int(value)).values_list("pk", flat=True).first()
        if pk is not None:
            return pk
    raise ShoalError("invalid_value", gettext("invited_by: no customer with this id or mobile"))


def _date_text(raw: str) -> str:
    """Spreadsheet spellings of dates: 2024/3/5, 2024.03.05, 2024年3月5日 → 2024-03-05 (time kept)."""
    text = raw.strip()
    head, sep, rest = text.partition(" ")
    head = head.replace("年", "-").replace("月", "-").rstrip("日").replace("/", "-").replace(".", "-")
    parts = head.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        head = f"{int(parts[0]):04d}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    return head + (" " + rest.strip() if rest.strip() else "")


def _enum_converter(convert, group_id: int | None) -> Callable[[str], object]:
    """Enum options by code or label, case-insensitively (the exact spelling first)."""
    folded: dict[str, str] | None = None

    def enum(raw: str):
        nonlocal folded
        try:
            return convert(raw)
        except ShoalError:
            if folded is None:
                folded = {}
                if group_id is not None:
                    from shoal.customers.models import EnumItem

                    for code, label in EnumItem.objects.filter(group_id=group_id, enabled=True).values_list("code", "label"):
                        folded.setdefault(_norm(label), code)
                        folded.setdefault(_norm(code), code)
            hit = folded.get(_norm(raw))
            if hit is None:
                raise
            return convert(hit)
    return enum


def as_text(value) -> str:
    """A stored value as the import shows it (error report, preview)."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
