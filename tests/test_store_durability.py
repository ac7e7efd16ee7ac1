FULL, NORMAL = 2, 1


def _synchronous(store):
    return store.cx.query("PRAGMA synchronous")[0][0]


def test_durable_write_commits_with_synchronous_full_then_restores_normal(store):
    with store.cx.write(durable=True) as conn:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == FULL
        store.create_experiment("inside")
    assert _synchronous(store) == NORMAL
    assert store.get_experiment_by_name("inside") is not None


def test_failed_durable_write_rolls_back_and_restores_normal(store):
    try:
        with store.cx.write(durable=True):
            store.create_experiment("rolled-back")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _synchronous(store) == NORMAL
    assert store.get_experiment_by_name("rolled-back") is None



def test_change_counter_moves_on_own_and_other_connections_commits(store):
    from mlnb.store import Store

    before = store.change_counter()
    assert store.change_counter() == before  # reads do not move it
    store.create_run("0")
    after_own = store.change_counter()
    assert after_own != before
    other = Store(store.location)  # another connection, as a kernel's would be
    try:
        other.create_run("0")
    finally:
        other.close()
    assert store.change_counter() != after_own
