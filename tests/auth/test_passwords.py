import bcrypt

from registry_model.auth import passwords


def test_a_hash_checks_its_password_only():
    stored = passwords.hash_password("pw")
    assert passwords.check_password("pw", stored)
    assert not passwords.check_password("pW", stored)
    assert not passwords.check_password("pw", "not a hash")
    assert not passwords.check_password("x" * 73, stored)


def test_the_check_for_a_missing_account_costs_a_bcrypt_check(monkeypatch):
    # The same work, counted rather than timed (timings are never asserted here).
    monkeypatch.setattr(passwords, "ROUNDS", 10)
    stored = passwords.hash_password("pw")
    checked = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password, hashed):
        checked.append(hashed.split(b"$")[2])  # the cost factor
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    assert not passwords.check_password("wrong", stored)
    assert not passwords.burn_check("pw")
    assert not passwords.burn_check("no account has this password")
    assert checked == [b"10", b"10", b"10"]
