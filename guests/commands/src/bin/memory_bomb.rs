//! Hostile: allocates (and touches) memory until something stops it.
fn main() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        chunk[hoard.len() % (1 << 20)] = 1;
        hoard.push(std::hint::black_box(chunk));
    }
}
