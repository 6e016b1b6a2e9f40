//! What the demo prints once the campaign has run: the registry, intake and crediting tallies,
//! the top campuses, and the leaderboard of the busiest one.

use super::disposal::Reported;
use super::simulation::Intake;
use super::DemoArgs;
use crate::report::{group, kg};
use greenloop::store::{Store, StoreError};
use std::collections::BTreeMap;

pub(super) async fn print_summary(
    store: &dyn Store,
    args: &DemoArgs,
    rules: &greenloop::catalog::Rules,
    (intake, credit, reported): (&Intake, &greenloop::credit::CreditRun, &Reported),
    (stations, members): (usize, usize),
) -> Result<(), StoreError> {
    let names: BTreeMap<String, String> = store
        .campuses()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let mut accounts = Vec::new();
    loop {
        let page = store
            .account_page(
                accounts
                    .last()
                    .map(|a: &greenloop::store::Account| &a.member),
                1_000,
            )
            .await?;
        if page.is_empty() {
            break;
        }
        accounts.extend(page);
    }
    let points: i64 = accounts.iter().map(|a| a.balance).sum();
    let co2e: i64 = accounts.iter().map(|a| a.co2e_g).sum();
    let delivered = intake.recorded + intake.replays + intake.conflicts + intake.booked;
    println!(
        "Greenloop demo: Double 11 2026, rulebook {}, factors {}, seed {}",
        rules.rulebook.version, rules.factors.version, args.seed
    );
    println!(
        "  registry   {} campuses, {} partner brands, {} stations, {} members ({} affiliated)",
        args.campuses,
        rules.rulebook.partner_brands.len(),
        group(stations as i64),
        group(members as i64),
        group(accounts.iter().filter(|a| a.campus.is_some()).count() as i64)
    );
    println!(
        "  intake     {} deliveries: {} actions recorded, {} bookings, {} replays answered, {} conflicting bodies refused",
        group(delivered as i64),
        group(intake.recorded as i64),
        group(intake.booked as i64),
        group(intake.replays as i64),
        group(intake.conflicts as i64)
    );
    println!(
        "  crediting  {} entries in {} batches; {} re-planned after a conflict, {} already credited",
        group(credit.credited as i64),
        group(credit.batches as i64),
        credit.conflicts,
        credit.skipped
    );
    println!(
        "  totals     {} points credited, {} CO2e avoided",
        group(points),
        kg(co2e)
    );

    let disposition = greenloop::http::audit::Disposition::of(store.disposition_totals().await?);
    if reported.skipped {
        println!("Packaging's second life (already reported in this data directory; nothing new)");
    } else {
        println!(
            "Packaging's second life ({} station reports entered, {} refused by the mass balance)",
            group(reported.entered as i64),
            group(reported.refused as i64)
        );
    }
    crate::figures::print_totals(&disposition.totals);
    // The stored figures the public ranking serves, folded from the checkpointed entries.
    let team = greenloop::brand::fold::rank(store.brand_standings().await?);
    let partners: Vec<_> = team.into_iter().take(5).collect();
    println!("Top brands of the Domestic Brands Green Decrement Team (boxes returned)");
    crate::figures::print_team(&partners);

    let mut totals = store.campus_totals().await?;
    totals.sort_by(|a, b| b.co2e_g.cmp(&a.co2e_g).then(a.campus.cmp(&b.campus)));
    println!("Top campuses (by CO2e avoided)");
    for (i, t) in totals.iter().take(10).enumerate() {
        let name = names
            .get(&t.campus)
            .map_or(t.campus.as_str(), String::as_str);
        println!(
            "  {:>2}. {:<46} {:>14} {:>9} points {:>6} entries",
            i + 1,
            name,
            kg(t.co2e_g),
            group(t.bonus),
            group(t.entries as i64)
        );
    }
    if let Some(top) = totals.first() {
        let mut board: Vec<_> = accounts
            .iter()
            .filter(|a| a.campus.as_deref() == Some(top.campus.as_str()))
            .collect();
        board.sort_by(|a, b| b.balance.cmp(&a.balance).then(a.member.cmp(&b.member)));
        let name = names
            .get(&top.campus)
            .map_or(top.campus.as_str(), String::as_str);
        println!("Campus leaderboard: {name} (members by points; pseudonyms only)");
        for (i, a) in board.iter().take(5).enumerate() {
            println!(
                "  {:>2}. member {}…  {:>5} points {:>12} {:>4} entries",
                i + 1,
                &a.member.as_str()[..12],
                group(a.balance),
                kg(a.co2e_g),
                a.entries
            );
        }
    }
    Ok(())
}
