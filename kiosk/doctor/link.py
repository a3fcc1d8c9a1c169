"""``cedoka doctor``'s checks of the link to the district: the district server's answer
(``server``), its TLS certificate (``tls``) and this computer's clock against the server's
(``clock``), with the facts each check judges and the clock offset measured from one
exchange."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kiosk.doctor.model import (
    CLOCK_FIX,
    REVOKED_CODES,
    Check,
    Pair,
    Status,
    check,
    duration,
    join,
    reenrol_fix,
    skipped,
    when,
)
from kiosk.errors import Reason
from kiosk.limits import DEFAULT_LEEWAY_S
from kiosk.messages import text as reason_text

# --- 4. server -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerFacts:
    host: str
    outcome: str  # "ok", "rejected", "head_rejected", or the client's LinkKind value
    elapsed_ms: int = 0
    status: int | None = None  # the HTTP status, when an answer came
    reason: str | None = None  # the Reason value, for "rejected" / "head_rejected"
    timeout_s: int = 10
    wait_s: int = 1  # how long the district may hold the request (the feed's long-poll)
    floor_ahead: bool = False  # the kiosk's time floor is far ahead of the district's time


def judge_server(f: ServerFacts, *, command: str, home: str) -> Check:
    host, kind = f.host, f.outcome
    if kind == "ok":
        return check("server", Status.OK, (
            f"Server kabupaten {host} menjawab dan mengenali komputer ini ({f.elapsed_ms} ms, "
            f"termasuk sampai {f.wait_s} detik menunggu kiriman baru).",
            f"The district server {host} answered and recognised this computer "
            f"({f.elapsed_ms} ms, including up to {f.wait_s} s of waiting for news).",
        ))  # fmt: skip
    found: Pair
    fix: Pair
    if kind == "rejected" and f.reason in REVOKED_CODES:
        reason = Reason(str(f.reason))
        found = (
            f"Server kabupaten {host} menolak komputer ini: {reason_text(reason, 'id')}",
            f"The district server {host} refuses this computer: {reason_text(reason, 'en')}",
        )
        return check("server", Status.FAIL, found, reenrol_fix(command, home))
    if kind == "head_rejected" and f.floor_ahead:
        found = (
            f"Server kabupaten {host} menjawab, tetapi konfirmasinya ditolak ({f.reason}) karena "
            "waktu terpercaya komputer ini jauh lebih maju dari waktu kabupaten (lihat 'trust').",
            f"The district server {host} answered, but its confirmation is refused ({f.reason}) "
            "because this kiosk's trusted time is far ahead of the district's (see 'trust').",
        )
        fix = ("Ikuti perbaikan pada pemeriksaan 'trust'.", "Follow the fix of the 'trust' check.")
        return check("server", Status.FAIL, found, fix)
    if kind in ("rejected", "head_rejected") and f.reason in (
        Reason.EXPIRED.value,
        Reason.ISSUED_IN_FUTURE.value,
        Reason.HEAD_EXPIRED.value,
    ):
        found = (
            f"Server kabupaten {host} menjawab, tetapi jam komputer ini membuat jawabannya "
            f"ditolak ({f.reason}).",
            f"The district server {host} answered, but this computer's clock makes the exchange "
            f"fail ({f.reason}).",
        )
        return check("server", Status.FAIL, found, CLOCK_FIX)
    if kind == "rejected":
        found = (
            f"Server kabupaten {host} menolak permintaan komputer ini ({f.reason}).",
            f"The district server {host} refused this computer's request ({f.reason}).",
        )
        fix = ("Beri tahu petugas IT kabupaten; jika tetap, daftarkan ulang komputer ini.",
               "Tell district IT; if it persists, enrol this computer again.")  # fmt: skip
        return check("server", Status.FAIL, found, fix)
    if kind == "head_rejected":
        known = Reason(str(f.reason)) if f.reason in Reason.__members__.values() else None
        said = (reason_text(known, "id"), reason_text(known, "en")) if known else ("", "")
        found = (f"Server kabupaten {host} menjawab, tetapi jawabannya tidak lolos pemeriksaan "
                 f"({f.reason}). {said[0]}".rstrip(),
                 f"The district server {host} answered, but its answer failed the check "
                 f"({f.reason}). {said[1]}".rstrip())  # fmt: skip
        fix = ("Beri tahu petugas IT kabupaten.", "Tell district IT.")
        return check("server", Status.FAIL, found, fix)
    status = f" (HTTP {f.status})" if f.status else ""
    net_fix = ("Periksa sambungan internet (sinyal, modem, VSAT); jika tetap, beri tahu petugas "
               "IT kabupaten.",
               "Check the internet connection (signal, modem, VSAT); if it persists, tell "
               "district IT.")  # fmt: skip
    table: dict[str, tuple[Pair, Pair]] = {
        "dns": ((f"Nama server {host} tidak ditemukan: internet mati atau alamat server salah.",
                 f"The server name {host} could not be found (DNS): the internet is down or the "
                 "server address is wrong."),
                ("Periksa sambungan internet, lalu server_url di agent.toml.",
                 "Check the internet connection, then server_url in agent.toml.")),
        "refused": ((f"Server {host} menolak sambungan: layanan kabupaten tidak berjalan di "
                     "alamat itu.",
                     f"The server {host} refused the connection: the district service is not "
                     "running at that address."),
                    ("Beri tahu petugas IT kabupaten; periksa alamat dan port di server_url "
                     "(agent.toml).",
                     "Tell district IT; check the address and port in server_url (agent.toml).")),
        "timeout": ((f"Server {host} tidak menjawab dalam {f.timeout_s} detik.",
                     f"The server {host} did not answer within {f.timeout_s} s."), net_fix),
        "deadline": ((f"Server {host} menjawab terlalu lambat.",
                      f"The server {host} answered too slowly."), net_fix),
        "tls": ((f"Sambungan aman ke server {host} gagal: sertifikatnya tidak dipercaya, atau "
                 "tanggal komputer ini salah.",
                 f"The secure connection to {host} failed: its certificate is not trusted, or "
                 "this computer's date is wrong."),
                ("Lihat pemeriksaan 'tls' dan 'clock'.", "See the 'tls' and 'clock' checks.")),
        "captive_portal": ((f"Jawaban tidak datang dari server kabupaten{status} (mungkin "
                            "halaman masuk Wi-Fi/hotspot, atau proxy).",
                            f"The answer did not come from the district server{status} (maybe a "
                            "Wi-Fi/hotspot sign-in page, or a proxy)."),
                           ("Buka peramban dan masuk ke jaringan, atau periksa proxy; lalu coba "
                            "lagi.",
                            "Open a browser and sign in to the network, or check the proxy; then "
                            "try again.")),
        "http_5xx": ((f"Server kabupaten {host} sedang bermasalah{status}.",
                      f"The district server {host} has a problem{status}."),
                     ("Coba lagi nanti; jika tetap, beri tahu petugas IT kabupaten.",
                      "Try again later; if it persists, tell district IT.")),
        "rate_limited": ((f"Server kabupaten {host} sedang sibuk{status}.",
                          f"The district server {host} is busy{status}."),
                         ("Coba lagi beberapa menit lagi.", "Try again in a few minutes.")),
    }  # fmt: skip
    found, fix = table.get(kind, (
        (f"Server kabupaten {host} tidak bisa dihubungi dengan baik ({kind}{status}).",
         f"The district server {host} could not be reached properly ({kind}{status})."),
        net_fix,
    ))  # fmt: skip
    return check("server", Status.FAIL, found, fix)


# --- 5. tls --------------------------------------------------------------------------------

TLS_WARN_DAYS: Final = 30


@dataclass(frozen=True, slots=True)
class TlsFacts:
    scheme: str  # "https" | "http"
    host: str
    loopback: bool = False
    connected: bool = True  # a TCP connection was made (else the 'server' check says why)
    verified: bool = False  # the handshake verified the certificate and the host name
    error: str = ""  # why verification or the handshake failed
    own_ca: bool = False  # verified against the district's CA file (server-ca.pem)
    not_before_s: int | None = None  # the certificate's validity, when it could be read
    not_after_s: int | None = None
    now_s: int = 0
    utc_offset_s: int = 0


def judge_tls(f: TlsFacts) -> Check:
    """https: the certificate verifies (configured CA or the public list) and has more than
    ``TLS_WARN_DAYS`` left; http: loopback only (a demo or a test)."""
    if f.scheme == "http":
        if f.loopback:
            return check("tls", Status.OK, (
                "HTTP biasa ke komputer ini sendiri (hanya untuk demo/uji).",
                "Plain HTTP on loopback (demo/test only).",
            ))  # fmt: skip
        return check("tls", Status.FAIL, (
            f"Server {f.host} dihubungi tanpa enkripsi (http://).",
            f"The server {f.host} is reached without encryption (http://).",
        ), (
            "Daftarkan ulang dengan alamat https:// dari petugas IT kabupaten.",
            "Enrol again with the https:// address from district IT.",
        ))  # fmt: skip
    if not f.connected:
        return skipped("tls", (f"Dilewati: tidak bisa tersambung ke {f.host} (lihat 'server').",
                               f"Skipped: cannot connect to {f.host} (see 'server')."))  # fmt: skip
    renew = ("Petugas IT kabupaten harus memperbarui sertifikat server.",
             "District IT must renew the server's certificate.")  # fmt: skip
    if f.not_before_s is not None and f.now_s < f.not_before_s:
        start = when(f.not_before_s, f.utc_offset_s)
        return check("tls", Status.FAIL, (
            f"Sertifikat server {f.host} baru berlaku mulai {start}: tanggal komputer ini "
            "kemungkinan salah.",
            f"The certificate of {f.host} is only valid from {start}: this computer's date is "
            "probably wrong.",
        ), CLOCK_FIX)  # fmt: skip
    if f.not_after_s is not None and f.not_after_s <= f.now_s:
        end = when(f.not_after_s, f.utc_offset_s)
        return check("tls", Status.FAIL, (
            f"Sertifikat server {f.host} sudah kedaluwarsa ({end}).",
            f"The certificate of {f.host} has expired ({end}).",
        ), (renew[0] + " Periksa juga tanggal komputer ini.",
            renew[1] + " Also check this computer's date."))  # fmt: skip
    if not f.verified:
        return check("tls", Status.FAIL, (
            f"Sertifikat server {f.host} tidak dipercaya: {f.error}.",
            f"The certificate of {f.host} is not trusted: {f.error}.",
        ), (
            "Jika kabupaten memakai CA sendiri, daftarkan dengan --ca FILE (disimpan sebagai "
            "server-ca.pem); jika tidak, petugas IT kabupaten harus memasang sertifikat yang sah.",
            "If the district uses its own CA, enrol with --ca FILE (kept as server-ca.pem); "
            "otherwise district IT must install a valid certificate.",
        ))  # fmt: skip
    trust = ("CA kabupaten, server-ca.pem", "the district's CA, server-ca.pem") if f.own_ca else (
        "daftar CA umum", "the public CA list")  # fmt: skip
    if f.not_after_s is None:
        return check(
            "tls",
            Status.OK,
            (
                f"Sertifikat server {f.host} dipercaya ({trust[0]}).",
                f"The certificate of {f.host} is trusted ({trust[1]}).",
            ),
        )
    days = (f.not_after_s - f.now_s) // 86400
    end = when(f.not_after_s, f.utc_offset_s)
    if days < TLS_WARN_DAYS:
        return check("tls", Status.WARN, (
            f"Sertifikat server {f.host} berakhir dalam {days} hari ({end}).",
            f"The certificate of {f.host} expires in {days} days ({end}).",
        ), (f"Minta petugas IT kabupaten memperbarui sertifikat sebelum {end}.",
            f"Ask district IT to renew the certificate before {end}."))  # fmt: skip
    return check("tls", Status.OK, (
        f"Sertifikat server {f.host} dipercaya ({trust[0]}), berlaku sampai {end} "
        f"({days} hari lagi).",
        f"The certificate of {f.host} is trusted ({trust[1]}), valid until {end} ({days} days).",
    ))  # fmt: skip


# --- 6. clock ------------------------------------------------------------------------------

# How far the local clock may be from the district's before the district refuses the kiosk.
# A request proof carries iat = the local clock (plus the client's learned offset) and
# exp = iat + PROOF_LIFETIME_S; the district accepts it while iat <= its now + leeway and
# exp + leeway > its now (kiosk/proof.py verify_proof, DEFAULT_LEEWAY_S = 60, the same leeway
# as a manifest's iat, VerifyPolicy / AgentConfig.job_leeway_s's default). So a clock more
# than 60 s ahead or 120 s behind signs proofs the district refuses: the agent then corrects
# its offset from the answer's Date header and retries, but every restart starts wrong, and
# the kiosk's own judgements (job expiry, lockouts, audit and receipt times) stay wrong. The
# district's replay window (exp + 60 s) matches the same bound.
PROOF_LIFETIME_S: Final = 60  # kiosk.proof.make_proof's lifetime_s, as the agent signs
CLOCK_WARN_S: Final = DEFAULT_LEEWAY_S
CLOCK_AHEAD_FAIL_S: Final = DEFAULT_LEEWAY_S  # more ahead than this: "issued_in_future"
CLOCK_BEHIND_FAIL_S: Final = PROOF_LIFETIME_S + DEFAULT_LEEWAY_S  # this much behind: "expired"


def clock_offset_s(*, date_s: float, sent_s: float, received_s: float) -> int:
    """The server's clock minus the local clock, in whole seconds, from one exchange.

    The answer's ``Date`` (whole seconds, so the server's time lay in [date, date + 1)) was
    stamped between sending (``sent_s``, local) and receiving (``received_s``): the offset
    lies in (date - received, date + 1 - sent). The value of that interval nearest to zero is
    returned, so a slow link never makes a right clock look wrong.
    """
    low, high = date_s - received_s, date_s + 1 - sent_s
    if low <= 0 <= high:
        return 0
    nearest = low if low > 0 else high
    return int(nearest)  # toward zero


def judge_clock(offset_s: int) -> Check:
    """``offset_s`` = server - local: positive when the local clock is behind. Warn above
    ``CLOCK_WARN_S``; fail when the district refuses proofs signed by this clock."""
    if abs(offset_s) <= CLOCK_WARN_S:
        return check("clock", Status.OK, (
            f"Jam komputer ini cocok dengan jam server kabupaten (selisih {abs(offset_s)} detik).",
            f"This computer's clock matches the district server's (off by {abs(offset_s)} s).",
        ))  # fmt: skip
    words = duration(offset_s)
    if offset_s > 0:
        about = (
            f"Jam komputer ini {words[0]} lebih lambat dari jam server kabupaten.",
            f"This computer's clock is {words[1]} behind the district server's.",
        )
    else:
        about = (
            f"Jam komputer ini {words[0]} lebih cepat dari jam server kabupaten.",
            f"This computer's clock is {words[1]} ahead of the district server's.",
        )
    ahead, behind = duration(CLOCK_AHEAD_FAIL_S), duration(CLOCK_BEHIND_FAIL_S)
    refused = (
        f"Server kabupaten menolak komputer yang jamnya terlalu cepat (lebih dari {ahead[0]}) "
        f"atau terlalu lambat ({behind[0]} atau lebih); waktu pada catatan dan masa berlaku "
        "dokumen juga menjadi salah.",
        f"The district refuses a computer whose clock is too far ahead (more than {ahead[1]}) "
        f"or behind ({behind[1]} or more); times in the records and document deadlines go "
        "wrong too.",
    )
    failed = -offset_s > CLOCK_AHEAD_FAIL_S or offset_s >= CLOCK_BEHIND_FAIL_S
    return check("clock", Status.FAIL if failed else Status.WARN, join([about, refused]),
                  CLOCK_FIX)  # fmt: skip
