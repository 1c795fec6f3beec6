import time

from registry_model.auth import passwords


def test_a_hash_checks_its_password_only():
    stored = passwords.hash_password("pw")
    assert passwords.check_password("pw", stored)
    assert not passwords.check_password("pW", stored)
    assert not passwords.check_password("pw", "not a hash")
    assert not passwords.check_password("x" * 73, stored)


def test_the_check_for_a_missing_account_costs_a_bcrypt_check(monkeypatch):
    monkeypatch.setattr(passwords, "ROUNDS", 10)
    stored = passwords.hash_password("pw")
    passwords.burn_check("warm the dummy hash")

    def timed(check):
        started = time.perf_counter()
        check()
        return time.perf_counter() - started

    known = min(timed(lambda: passwords.check_password("wrong", stored)) for _ in range(3))
    unknown = min(timed(lambda: passwords.burn_check("wrong")) for _ in range(3))
    assert not passwords.burn_check("pw")
    assert 0.5 < unknown / known < 2, (known, unknown)
