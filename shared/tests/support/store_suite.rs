//! The store behaviour suite (`greenloop::store::suite`) as one test per case, for every store:
//! each store's test file says how to make a fresh store, and the cases are listed only here.
#![allow(unused_imports, unused_macros)] // only the store test binaries expand it

/// One `#[tokio::test]` per case of the suite, each on a fresh store.
///
/// `|case| fresh` is an expression, evaluated inside the async test (so it may `.await`), that
/// gives `(store, keep)`: a fresh store for the case named `case` (a `&str`), and what must
/// outlive it (a temporary directory, or `()`).
macro_rules! cases {
    (|$case:ident| $fresh:expr) => {
        $crate::support::store_suite::cases!(@each |$case| $fresh;
            recording_is_idempotent,
            invalid_actions_are_refused_and_not_written,
            pickups_are_booked_then_completed,
            pending_actions_are_oldest_first_and_limited,
            append_writes_everything_it_carries,
            append_is_conditional_and_all_or_nothing,
            registry_round_trips_and_rules_are_fixed,
            queries_read_what_was_credited,
            checkpoints_sign_the_tree_and_answer_proofs,
        );

        // The one case that shares its store between tasks.
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_crediting_credits_each_action_once() {
            let $case = "concurrent_crediting_credits_each_action_once";
            let (store, _keep) = $fresh;
            ::greenloop::store::suite::concurrent_crediting_credits_each_action_once(
                ::std::sync::Arc::new(store),
            )
            .await;
        }
    };
    (@each |$case:ident| $fresh:expr; $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let $case = stringify!($name);
            let (store, _keep) = $fresh;
            ::greenloop::store::suite::$name(&store).await;
        }
    )*};
}

pub(crate) use cases;
