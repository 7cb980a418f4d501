//! Ids and generated names for containers and pods.
//!
//! Ids are 64 lower-case hex characters from 32 random bytes, redrawn when
//! the first 12 are all digits (a short id used as a hostname must not be
//! numeric). Generated names look like podman's, `adjective_surname`; the
//! word lists are oxpod's own.

use std::io::Read;

/// Adjectives for generated names.
const ADJECTIVES: &[&str] = &[
    "admiring",
    "agile",
    "amazing",
    "awesome",
    "blissful",
    "bold",
    "brave",
    "busy",
    "calm",
    "charming",
    "clever",
    "cool",
    "compassionate",
    "competent",
    "confident",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "fervent",
    "festive",
    "focused",
    "friendly",
    "frosty",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "relaxed",
    "reverent",
    "romantic",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

/// Surnames of scientists and engineers for generated names.
const SURNAMES: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "archimedes",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "benz",
    "bhabha",
    "black",
    "bohr",
    "booth",
    "borg",
    "bose",
    "brahmagupta",
    "brattain",
    "brown",
    "carson",
    "cerf",
    "chandrasekhar",
    "clarke",
    "colden",
    "cori",
    "curie",
    "darwin",
    "davinci",
    "diffie",
    "dijkstra",
    "dirac",
    "driscoll",
    "dubinsky",
    "easley",
    "edison",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "germain",
    "goldberg",
    "goldwasser",
    "golick",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hermann",
    "hertz",
    "hodgkin",
    "hoover",
    "hopper",
    "hugle",
    "hypatia",
    "jackson",
    "jang",
    "jennings",
    "jepsen",
    "johnson",
    "joliot",
    "kalam",
    "kapitsa",
    "keldysh",
    "kepler",
    "khorana",
    "kilby",
    "knuth",
    "kowalevski",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lederberg",
    "lehmann",
    "lewin",
    "lichterman",
    "liskov",
    "lovelace",
    "lumiere",
    "mahavira",
    "margulis",
    "matsumoto",
    "maxwell",
    "mayer",
    "mccarthy",
    "mcclintock",
    "meitner",
    "mendel",
    "mendeleev",
    "merkle",
    "mirzakhani",
    "moore",
    "morse",
    "napier",
    "nash",
    "neumann",
    "newton",
    "nightingale",
    "nobel",
    "noether",
    "northcutt",
    "noyce",
    "panini",
    "pare",
    "pascal",
    "pasteur",
    "payne",
    "perlman",
    "pike",
    "poincare",
    "ptolemy",
    "raman",
    "ramanujan",
    "ride",
    "ritchie",
    "roentgen",
    "rosalind",
    "saha",
    "sammet",
    "shannon",
    "shaw",
    "shirley",
    "shockley",
    "sinoussi",
    "snyder",
    "spence",
    "stallman",
    "stonebraker",
    "swanson",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "vaughan",
    "villani",
    "visvesvaraya",
    "volhard",
    "wescoff",
    "wiles",
    "williams",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "wu",
    "yalow",
    "yonath",
    "zhukovsky",
];

/// Reads `n` random bytes from the kernel.
fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}

/// A new 64-hex-character id whose first 12 characters are not all digits.
pub fn new_id() -> std::io::Result<String> {
    loop {
        let bytes: [u8; 32] = random_bytes()?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if !id[..12].bytes().all(|c| c.is_ascii_digit()) {
            return Ok(id);
        }
    }
}

/// A random `adjective_surname`, never `boring_wozniak`.
pub fn random_name() -> std::io::Result<String> {
    loop {
        let r: [u8; 8] = random_bytes()?;
        let a = u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as usize % ADJECTIVES.len();
        let s = u32::from_le_bytes([r[4], r[5], r[6], r[7]]) as usize % SURNAMES.len();
        let name = format!("{}_{}", ADJECTIVES[a], SURNAMES[s]);
        if name != "boring_wozniak" {
            return Ok(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_not_numeric_prefixed() {
        for _ in 0..200 {
            let id = new_id().unwrap();
            assert_eq!(id.len(), 64);
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            assert!(!id[..12].bytes().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn names_look_like_podmans() {
        for _ in 0..200 {
            let n = random_name().unwrap();
            let (a, s) = n.split_once('_').unwrap();
            assert!(ADJECTIVES.contains(&a) && SURNAMES.contains(&s), "{n}");
            assert!(oxpod_state::is_valid_name(&n));
        }
    }
}
