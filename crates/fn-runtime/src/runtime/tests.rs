use super::*;

#[test]
fn ticks_round_up() {
    let ms = Duration::from_millis(1);
    assert_eq!(ticks_until(Duration::from_millis(10), ms), 10);
    assert_eq!(ticks_until(Duration::from_micros(10_001), ms), 11);
    assert_eq!(ticks_until(Duration::ZERO, ms), 1);
}
