//! Inputs no client or upstream should send, for the tests that feed them to the dialect: edits
//! drawn from a fixed pseudo-random sequence, so that every run tries the same inputs.

pub struct Mutator {
    seed: u64,
    noise: &'static [u8],
}

impl Mutator {
    /// Edits that insert or replace bytes of `noise`, in the sequence `seed` starts.
    pub fn new(seed: u64, noise: &'static [u8]) -> Self {
        Mutator { seed, noise }
    }

    /// The next number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.seed >> 33) as usize % n.max(1)
    }

    /// One edit of `bytes` (not empty) at some place: a byte replaced, removed or inserted.
    pub fn edit(&mut self, bytes: &mut Vec<u8>) {
        let at = self.below(bytes.len());
        match self.below(3) {
            0 => bytes[at] = self.noise[self.below(self.noise.len())],
            1 => {
                bytes.remove(at);
            }
            _ => {
                let b = self.noise[self.below(self.noise.len())];
                bytes.insert(at, b);
            }
        }
    }

    /// `original` with one to `most` edits.
    pub fn mutated(&mut self, original: &[u8], most: usize) -> Vec<u8> {
        let mut bytes = original.to_vec();
        for _ in 0..1 + self.below(most) {
            self.edit(&mut bytes);
        }
        bytes
    }
}
