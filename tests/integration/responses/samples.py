# ruff: noqa: E501 - the messages are as the MTAs write them
"""Inbound messages as several MTAs write them (written for these tests, after the formats
of RFC 3464 and what each MTA is known to send)."""

from __future__ import annotations


def postfix(to: str, msgid: str, status: str = "5.1.1", code: str = "550") -> bytes:
    return f"""Return-Path: <>
Received: by mx.example.org (Postfix) id 4F1C2; Mon,  7 Dec 2026 10:00:01 +0100 (CET)
Date: Mon,  7 Dec 2026 10:00:01 +0100 (CET)
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces@shop.example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4F1C2.1765098001/mx.example.org"
Message-Id: <20261207090001.4F1C2@mx.example.org>

This is a MIME-encapsulated message.

--4F1C2.1765098001/mx.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

                   The mail system

<{to}>: host mail.example.net[192.0.2.25] said: {code} {status} <{to}>:
    Recipient address rejected: User unknown (in reply to RCPT TO command)

--4F1C2.1765098001/mx.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
X-Postfix-Queue-ID: 4F1C2
X-Postfix-Sender: rfc822; bounces@shop.example.com
Arrival-Date: Mon,  7 Dec 2026 10:00:00 +0100 (CET)

Final-Recipient: rfc822; {to}
Original-Recipient: rfc822;{to}
Action: failed
Status: {status}
Remote-MTA: dns; mail.example.net
Diagnostic-Code: smtp; {code} {status} <{to}>: Recipient address rejected: User
    unknown

--4F1C2.1765098001/mx.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <bounces@shop.example.com>
From: Shop <news@shop.example.com>
To: {to}
Subject: News for Ann
Message-ID: {msgid}

--4F1C2.1765098001/mx.example.org--
""".replace("\n", "\r\n").encode()


def exim_plain(to: str, msgid: str) -> bytes:
    return f"""Return-path: <>
From: Mail Delivery System <Mailer-Daemon@mail.example.net>
To: bounces@shop.example.com
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1tXyZ-0004Ab-Cd@mail.example.net>
Date: Mon, 07 Dec 2026 10:02:00 +0000
X-Failed-Recipients: {to}
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {to}
    host mx.example.net [192.0.2.30]
    SMTP error from remote mail server after RCPT TO:<{to}>:
    550 5.1.1 No such user here

------ This is a copy of the message, including all the headers. ------

Return-path: <bounces@shop.example.com>
Message-ID: {msgid}
From: Shop <news@shop.example.com>
To: {to}
Subject: News for Ann

Hello Ann,
""".encode()


def exchange(to: str, msgid: str) -> bytes:
    return f"""From: postmaster@contoso.example
To: bounces@shop.example.com
Date: Mon, 7 Dec 2026 10:05:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="b1_exchange"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US
Message-ID: <f7a1e2b3-ndr@contoso.example>
In-Reply-To: {msgid}
Subject: Undeliverable: News for Ann
Auto-Submitted: auto-replied

--b1_exchange
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Delivery has failed to these recipients or groups:

{to}
The email address you entered couldn't be found. Please check the recipient's
email address and try to resend the message.

Diagnostic information for administrators:
Generating server: EXCH01.contoso.example
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'

--b1_exchange
Content-Type: message/delivery-status

Reporting-MTA: dns;EXCH01.contoso.example
Received-From-MTA: dns;mx.shop.example.com
Arrival-Date: Mon, 7 Dec 2026 10:04:59 +0000

Original-Recipient: rfc822;{to}
Final-Recipient: rfc822;{to}
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup

--b1_exchange
Content-Type: message/rfc822

From: Shop <news@shop.example.com>
To: <{to}>
Subject: News for Ann
Date: Mon, 7 Dec 2026 10:04:58 +0000
Message-ID: {msgid}
MIME-Version: 1.0
Content-Type: text/plain

Hello Ann,

--b1_exchange--
""".encode()


def qmail(to: str, msgid: str, full: bool = False) -> bytes:
    why = (
        "Remote host said: 452 4.2.2 Mailbox full, try again later"
        if full
        else "Sorry, no mailbox here by that name. (#5.1.1)"
    )
    return f"""Return-Path: <>
Date: 7 Dec 2026 10:10:00 -0000
From: MAILER-DAEMON@qmail.example.com
To: bounces@shop.example.com
Subject: failure notice
Message-ID: <20261207101000.12345.qmail@qmail.example.com>

Hi. This is the qmail-send program at qmail.example.com.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{to}>:
{why}

--- Below this line is a copy of the message.

Return-Path: <bounces@shop.example.com>
Message-ID: {msgid}
From: Shop <news@shop.example.com>
To: {to}
Subject: News for Ann

Hello Ann,
""".encode()


def full_mailbox(to: str, msgid: str, n: int) -> bytes:
    """A Postfix-style soft bounce (4.2.2), the ``n``-th one."""
    return postfix(to, msgid, status="4.2.2", code="452").replace(
        b"<20261207090001.4F1C2@mx.example.org>", f"<soft{n}.4F1C2@mx.example.org>".encode()
    )


def delayed(to: str, msgid: str) -> bytes:
    return (
        postfix(to, msgid)
        .replace(b"Action: failed", b"Action: delayed")
        .replace(b"Status: 5.1.1", b"Status: 4.4.1")
    )


def reply(msgid: str, auto: bool = False) -> bytes:
    extra = "Auto-Submitted: auto-replied\r\n" if auto else ""
    return (
        f"From: Ann Reader <reader0@example.org>\r\nTo: news@shop.example.com\r\n"
        f"Subject: Re: News for Ann\r\nMessage-ID: <reply-{int(auto)}@example.org>\r\n"
        f"In-Reply-To: {msgid}\r\nReferences: {msgid}\r\n{extra}\r\n"
        "Do you ship to Belgium?\r\n"
    ).encode()


MALFORMED = [
    b"",
    b"\x00\xff\xfe garbage without headers",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"
    b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
    b"Action: failed\r\nStatus: 9.9.9\r\n\r\n--x--",
    b"Subject: hello\r\n\r\nnot a bounce, no address: at all <@>",
]
