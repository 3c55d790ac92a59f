//! The harness's private cluster, which the fault and timeout scenarios stop, restart and
//! freeze: its data and port survive a restart, and nothing is left after drop.

use std::net::TcpStream;
use std::time::Duration;

use diesel::{Connection, PgConnection};
use diesel_pgmq::PgmqConnectionExt;
use pgmq_harness::PrivateCluster;

use crate::support::{Job, Res};

#[test]
fn private_cluster_keeps_data_and_port_across_restarts_and_is_gone_after_drop() -> Res {
    let cluster = PrivateCluster::start();
    let (url, port) = (cluster.url().to_owned(), cluster.port());
    let mut conn = PgConnection::establish(&url)?;
    conn.create_queue("kept")?;
    let id = conn.send("kept", &Job { id: 1 })?;
    drop(conn);

    cluster.stop();
    assert!(
        PgConnection::establish(&url).is_err(),
        "the server is still up"
    );
    cluster.start_again();
    cluster.restart();
    assert_eq!((cluster.url(), cluster.port()), (url.as_str(), port));
    let mut conn = PgConnection::establish(&url)?;
    let got = conn.pop::<Job>("kept", pgmq_orm_core::BatchSize::ONE)?;
    assert_eq!((got[0].msg_id, got[0].message), (id, Job { id: 1 }));
    drop(conn);

    assert!(
        cluster.server_pids().len() > 1,
        "postmaster and its children"
    );
    drop(cluster);
    let refused =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2));
    assert!(
        refused.is_err(),
        "the dropped cluster still listens on {port}"
    );
    Ok(())
}
