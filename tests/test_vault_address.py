"""visitors/vault.py's share per address, without a server: keys cost nothing to make, so one
address (a script) minting keys and filling its share pushes out its own oldest work, never another
address's; a write whose address is unknown is refused; the share survives a restart (the entries
say whose they are, as a hash only), an entry moves to the address that last loaded it, and what
was pushed out is told apart from what aged out."""
import os
import time

import numpy as np
import pytest

import locales
from visitors import vault as vaults

SHARE = 100_000
BLOB = {"images": np.zeros((10, 28, 28), np.float32)}  # 31.6 kB as an .npz: three fit a share, four do not
SCHOOL, HOME = "198.51.100.7", "203.0.113.50"


def shared_vault(tmp_path, max_bytes=1_000_000, address_bytes=SHARE):
    return vaults.Vault(tmp_path / "vault", max_bytes, 3600.0, 60_000, address_bytes)


def aged(vault, key, seconds):
    """Make `key`'s entry look last used `seconds` ago."""
    when = time.time() - seconds
    os.utime(vault._entry(key), (when, when))


def test_one_address_filling_its_share_pushes_out_its_own_oldest_never_another_addresss(tmp_path):
    vault = shared_vault(tmp_path)
    other = vaults.new_key()
    vault.claim(other, HOME)
    vault.save(other, "corrections", BLOB)
    aged(vault, other, 3000)  # the oldest entry in the whole store
    minted = [vaults.new_key() for _ in range(12)]  # a script's keys, all from one address
    for key in minted:
        vault.claim(key, SCHOOL)
        vault.save(key, "corrections", BLOB)
    assert "corrections" in vault.load(other), "another address's work was pushed out"
    assert vault.held_by(SCHOOL) <= SHARE and vault.held_by(HOME) > 0
    kept = [key for key in minted if vault.has(key)]
    assert kept == minted[-3:], "the address's newest work should stay, its oldest go first"
    assert all(vault.gone_why(key) == "share" for key in minted[:-3])
    assert vault.bytes == sum(vaults.folder_bytes(p) for p in vault._entries())


def test_the_same_addresss_least_recently_used_goes_first(tmp_path):
    vault = shared_vault(tmp_path)
    first, second, third, fourth = (vaults.new_key() for _ in range(4))
    for key in (first, second, third):
        vault.claim(key, SCHOOL)
        vault.save(key, "mine", BLOB)
    vault.load(first)  # the first visitor came back: the second is now the least recently used
    vault.claim(fourth, SCHOOL)
    vault.save(fourth, "mine", BLOB)
    assert vault.has(first) and not vault.has(second) and vault.has(third) and vault.has(fourth)
    assert vault.gone_why(second) == "share" and vault.gone_why(first) is None
    said = locales.text(f"keep.gone.{vault.gone_why(second)}", "en", days=30, mb=64)  # as tabs/keep.py says it
    assert "64 MB" in said and "one address" in said
    vault.claim(second, SCHOOL)  # the visitor came back (the page's load) and kept work anew: what was gone has been said
    vault.save(second, "mine", BLOB)
    assert vault.gone_why(second) is None and vault.has(second)


def test_tiny_entries_count_a_block_each_so_one_address_cannot_multiply_them(tmp_path):
    vault = shared_vault(tmp_path, address_bytes=10 * vaults.BLOCK)
    keys = [vaults.new_key() for _ in range(30)]
    for key in keys:
        vault.save(key, "runs", [1], address=SCHOOL)
    assert sum(vault.has(key) for key in keys) == 10 and vault.has(keys[-1])


def test_a_write_whose_address_is_unknown_is_refused_and_one_past_the_share_alone_too(tmp_path):
    vault = shared_vault(tmp_path, address_bytes=20_000)
    stranger = vaults.new_key()
    with pytest.raises(vaults.Full):
        vault.save(stranger, "runs", [1])  # never claimed: whose share would it count against?
    assert not vault.has(stranger)
    key = vaults.new_key()
    vault.claim(key, SCHOOL)
    with pytest.raises(vaults.Full):
        vault.save(key, "corrections", BLOB)  # one entry past the whole share: refused, nothing pushed out
    assert not vault.has(key)


def test_the_share_survives_a_restart_and_an_entry_follows_the_address_that_loads_it(tmp_path):
    vault = shared_vault(tmp_path)
    homework, *rest = (vaults.new_key() for _ in range(3))
    for key in (homework, *rest):
        vault.save(key, "mine", BLOB, address=SCHOOL)
    on_disk = "".join(p.read_bytes().decode("latin-1") for p in (tmp_path / "vault").rglob("*") if p.is_file())
    assert SCHOOL not in on_disk  # an address is written down as a hash only
    again = shared_vault(tmp_path)  # the server restarted on the same disk
    assert again.held_by(SCHOOL) == vault.held_by(SCHOOL) > 0
    again.claim(homework, HOME)  # carried home: it counts there now
    assert again.held_by(HOME) > 0 and again.held_by(SCHOOL) < vault.held_by(SCHOOL)
    for _ in range(3):
        again.save(vaults.new_key(), "mine", BLOB, address=SCHOOL)
    assert again.has(homework) and not any(again.has(key) for key in rest)


def test_without_a_share_the_vault_is_as_before(tmp_path):
    vault = shared_vault(tmp_path, address_bytes=None)
    keys = [vaults.new_key() for _ in range(12)]
    for key in keys:
        vault.save(key, "corrections", BLOB)  # no address, no share: only the store's bounds
    assert all(vault.has(key) for key in keys)
    assert vaults.from_environment(tmp_path).address_bytes == 64 * 2**20
