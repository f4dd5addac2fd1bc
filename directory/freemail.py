"""Free-mail and consumer mailbox domains: an officer's request should never come from one of these.

Curated by hand (large webmail providers and their country variants); a domain's subdomains count too.
Extend the set when a provider is missing; the check only ever adds a warning, it never clears one.
"""

from __future__ import annotations

FREE_MAIL_DOMAINS: frozenset[str] = frozenset({
    # global webmail
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com",
    "yahoo.com", "ymail.com", "rocketmail.com", "aol.com", "aim.com", "icloud.com", "me.com", "mac.com",
    "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com", "tutanota.de", "tuta.io",
    "tutamail.com", "zoho.com", "zohomail.com", "gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch",
    "mail.com", "email.com", "yandex.com", "yandex.ru", "ya.ru", "mail.ru", "inbox.ru", "list.ru",
    "bk.ru", "rambler.ru", "hushmail.com", "fastmail.com", "fastmail.fm", "mailfence.com", "posteo.de",
    "posteo.net", "disroot.org", "riseup.net", "cock.li", "guerrillamail.com", "mailinator.com",
    "10minutemail.com", "temp-mail.org", "yopmail.com", "qq.com", "163.com", "126.com", "sina.com",
    "naver.com", "daum.net", "hanmail.net",
    # country variants of the large providers
    "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es", "live.co.uk", "live.fr",
    "outlook.fr", "outlook.de", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.it", "yahoo.es",
    "yahoo.co.jp", "yahoo.com.br", "googlemail.co.uk",
    # national consumer mail
    "web.de", "freenet.de", "t-online.de", "orange.fr", "laposte.net", "free.fr", "sfr.fr",
    "libero.it", "virgilio.it", "tiscali.it", "wp.pl", "o2.pl", "onet.pl", "interia.pl", "seznam.cz",
    "centrum.cz", "azet.sk", "abv.bg", "ukr.net", "mail.az", "box.az", "inbox.lv", "mail.ee",
    "bluewin.ch", "btinternet.com", "sky.com", "comcast.net", "att.net", "verizon.net",
})


def is_free_mail(domain: str) -> bool:
    """True when `domain` (ASCII, lower case) or one of its parents is a free-mail domain."""
    labels = domain.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in FREE_MAIL_DOMAINS for i in range(len(labels) - 1))
