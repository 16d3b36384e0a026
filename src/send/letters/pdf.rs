//! Postal letters as A4 PDF, laid out for a French window envelope (DL, window on the right):
//! the sender's block top left, the recipient's address in the window, place and date, the
//! subject, the body, a table of the invoices concerned that flows onto further pages (its
//! header repeated), page numbers. The font is embedded (accents): `police.ttf` and
//! `police-grasse.ttf` of the rule set's `letters/` folder, else the system's DejaVu Sans.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use printpdf::{
    IndirectFontRef, Line, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference, Point,
};

/// A4, in millimetres.
const WIDTH: f32 = 210.0;
const HEIGHT: f32 = 297.0;
const LEFT: f32 = 20.0;
const TEXT_WIDTH: f32 = 170.0;
const BOTTOM: f32 = 22.0;
/// The window of a DL envelope: the address block's left edge and its first line from the top.
const WINDOW_LEFT: f32 = 110.0;
const WINDOW_TOP: f32 = 55.0;
const BODY_SIZE: f32 = 10.5;
const SMALL: f32 = 9.0;
/// Millimetres per point.
const MM_PER_PT: f32 = 0.352_778;

/// The fonts a letter is set in (their bytes, embedded in every PDF).
pub struct Fonts {
    regular: Vec<u8>,
    bold: Vec<u8>,
}

/// Where the system's fonts are looked for when a rule set brings none.
const SYSTEM_FONTS: [(&str, &str); 1] = [(
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
)];

impl Fonts {
    /// The fonts of `letters_dir` (`police.ttf`, `police-grasse.ttf`), else DejaVu Sans.
    pub fn find(letters_dir: &Path) -> Result<Fonts, String> {
        let own = (
            letters_dir.join("police.ttf"),
            letters_dir.join("police-grasse.ttf"),
        );
        let candidates = std::iter::once(own).chain(
            SYSTEM_FONTS
                .iter()
                .map(|(r, b)| (PathBuf::from(r), PathBuf::from(b))),
        );
        for (regular, bold) in candidates {
            if let (Ok(r), Ok(b)) = (std::fs::read(&regular), std::fs::read(&bold)) {
                return Ok(Fonts {
                    regular: r,
                    bold: b,
                });
            }
        }
        Err(format!(
            "aucune police pour les courriers : déposez police.ttf et police-grasse.ttf dans {} (ou installez fonts-dejavu-core)",
            letters_dir.display()
        ))
    }
}

/// What a postal letter shows.
pub struct Page<'a> {
    /// The sender's block, one line each.
    pub sender: &'a [String],
    /// The recipient's name and address lines.
    pub address: &'a [String],
    /// "Paris, le 20/11/2026".
    pub place_date: &'a str,
    /// The subject line.
    pub subject: &'a str,
    /// The body (paragraphs separated by blank lines; lines are rewrapped to the width).
    pub body: &'a str,
    /// The table of the invoices concerned, if any.
    pub table: Option<&'a Table>,
}

/// A table: its title, column headers and widths (mm), rows of cells.
#[derive(Debug, Clone)]
pub struct Table {
    /// Shown above the table.
    pub title: String,
    /// Column headers.
    pub header: Vec<String>,
    /// Column widths in millimetres (they add up to the text width).
    pub widths: Vec<f32>,
    /// Rows of cells (a cell may hold several lines).
    pub rows: Vec<Vec<String>>,
}

/// Measures text in a font.
struct Metrics<'f> {
    face: ttf_parser::Face<'f>,
}

impl Metrics<'_> {
    /// The width of `text` at `size` points, in millimetres.
    fn width(&self, text: &str, size: f32) -> f32 {
        let upem = f32::from(self.face.units_per_em().max(1));
        let units: f32 = text
            .chars()
            .map(|c| {
                self.face
                    .glyph_index(c)
                    .and_then(|g| self.face.glyph_hor_advance(g))
                    .map_or(upem / 2.0, f32::from)
            })
            .sum();
        units / upem * size * MM_PER_PT
    }

    /// `text` broken into lines no wider than `width` mm; a line's indentation is kept on its
    /// continuation lines (a word longer than a line stands alone on it).
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let words = paragraph.trim_start();
            let indent = &paragraph[..paragraph.len() - words.len()];
            let mut line = indent.to_string();
            for word in words.split(' ').filter(|w| !w.is_empty()) {
                let fresh = line.trim().is_empty();
                let candidate = if fresh {
                    format!("{line}{word}")
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size) <= width || fresh {
                    line = candidate;
                } else {
                    lines.push(std::mem::replace(&mut line, format!("{indent}  {word}")));
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// Draws pages one after the other, opening a new one when the text reaches the bottom.
struct Writer {
    doc: PdfDocumentReference,
    layers: Vec<PdfLayerReference>,
    regular: IndirectFontRef,
    bold: IndirectFontRef,
    /// The current line's baseline, in mm from the bottom of the page.
    y: f32,
}

impl Writer {
    fn layer(&self) -> Option<&PdfLayerReference> {
        self.layers.last()
    }

    fn text(&self, text: &str, size: f32, x: f32, y: f32, bold: bool) {
        if let Some(l) = self.layer() {
            let font = if bold { &self.bold } else { &self.regular };
            l.use_text(text, size, Mm(x), Mm(y), font);
        }
    }

    fn new_page(&mut self) {
        let (page, layer) = self.doc.add_page(Mm(WIDTH), Mm(HEIGHT), "texte");
        self.layers.push(self.doc.get_page(page).get_layer(layer));
        self.y = HEIGHT - 25.0;
    }

    /// Room for `height` mm more on this page, or a new page.
    fn room(&mut self, height: f32) -> bool {
        if self.y - height < BOTTOM {
            self.new_page();
            return true;
        }
        false
    }

    fn rule(&self, y: f32) {
        if let Some(l) = self.layer() {
            l.set_outline_thickness(0.4);
            l.add_line(Line {
                points: vec![
                    (Point::new(Mm(LEFT), Mm(y)), false),
                    (Point::new(Mm(LEFT + TEXT_WIDTH), Mm(y)), false),
                ],
                is_closed: false,
            });
        }
    }
}

/// The PDF of a postal letter.
pub fn render(page: &Page, fonts: &Fonts) -> Result<Vec<u8>, String> {
    let face = ttf_parser::Face::parse(&fonts.regular, 0)
        .map_err(|e| format!("police illisible : {e}"))?;
    let bold_face = ttf_parser::Face::parse(&fonts.bold, 0)
        .map_err(|e| format!("police grasse illisible : {e}"))?;
    let (m, mb) = (Metrics { face }, Metrics { face: bold_face });
    let (doc, first, layer) = PdfDocument::new(page.subject, Mm(WIDTH), Mm(HEIGHT), "texte");
    let regular = doc
        .add_external_font(Cursor::new(fonts.regular.as_slice()))
        .map_err(|e| format!("police : {e}"))?;
    let bold = doc
        .add_external_font(Cursor::new(fonts.bold.as_slice()))
        .map_err(|e| format!("police grasse : {e}"))?;
    let first_layer = doc.get_page(first).get_layer(layer);
    let mut w = Writer {
        doc,
        layers: vec![first_layer],
        regular,
        bold,
        y: HEIGHT - 20.0,
    };
    // The sender, top left; the recipient in the window; place and date below it.
    for (i, line) in page.sender.iter().enumerate() {
        w.text(line, SMALL, LEFT, HEIGHT - 20.0 - 4.5 * i as f32, i == 0);
    }
    for (i, line) in page.address.iter().enumerate() {
        w.text(
            line,
            BODY_SIZE,
            WINDOW_LEFT,
            HEIGHT - WINDOW_TOP - 5.0 * i as f32,
            i == 0,
        );
    }
    w.text(
        page.place_date,
        BODY_SIZE,
        WINDOW_LEFT,
        HEIGHT - 100.0,
        false,
    );
    w.y = HEIGHT - 112.0;
    for line in mb.wrap(&format!("Objet : {}", page.subject), BODY_SIZE, TEXT_WIDTH) {
        w.text(&line, BODY_SIZE, LEFT, w.y, true);
        w.y -= 5.0;
    }
    w.y -= 5.0;
    let mut body = page.body.split("\n\n").peekable();
    while let Some(paragraph) = body.next() {
        let joined = paragraph.trim_end();
        for line in m.wrap(joined, BODY_SIZE, TEXT_WIDTH) {
            w.room(5.0);
            w.text(&line, BODY_SIZE, LEFT, w.y, false);
            w.y -= 5.0;
        }
        if body.peek().is_some() {
            w.y -= 2.5;
        }
    }
    if let Some(t) = page.table {
        table(&mut w, t, &m, &mb);
    }
    number_pages(&w, &m);
    w.doc
        .save_to_bytes()
        .map_err(|e| format!("PDF impossible à écrire : {e}"))
}

/// The table, a header row repeated on every page it flows onto.
fn table(w: &mut Writer, t: &Table, m: &Metrics, mb: &Metrics) {
    const SIZE: f32 = 9.0;
    const LINE: f32 = 4.2;
    let header = |w: &mut Writer| {
        let mut x = LEFT;
        for (h, width) in t.header.iter().zip(&t.widths) {
            w.text(h, SIZE, x + 1.0, w.y, true);
            x += width;
        }
        w.rule(w.y - 1.5);
        w.y -= LINE + 1.5;
    };
    w.room(20.0);
    w.y -= 4.0;
    for line in mb.wrap(&t.title, BODY_SIZE, TEXT_WIDTH) {
        w.text(&line, BODY_SIZE, LEFT, w.y, true);
        w.y -= 6.0;
    }
    header(w);
    for row in &t.rows {
        let cells: Vec<Vec<String>> = row
            .iter()
            .zip(&t.widths)
            .map(|(c, width)| m.wrap(c, SIZE, width - 2.0))
            .collect();
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let height = lines as f32 * LINE + 1.5;
        if w.room(height) {
            header(w);
        }
        let mut x = LEFT;
        for (cell, width) in cells.iter().zip(&t.widths) {
            for (i, line) in cell.iter().enumerate() {
                w.text(line, SIZE, x + 1.0, w.y - LINE * i as f32, false);
            }
            x += width;
        }
        w.y -= height;
        w.rule(w.y + LINE - 0.5);
    }
}

/// "page n / N" at the foot of every page, when there is more than one.
fn number_pages(w: &Writer, m: &Metrics) {
    let total = w.layers.len();
    if total < 2 {
        return;
    }
    for (i, layer) in w.layers.iter().enumerate() {
        let label = format!("page {} / {total}", i + 1);
        let x = LEFT + TEXT_WIDTH - m.width(&label, SMALL);
        layer.use_text(label, SMALL, Mm(x), Mm(12.0), &w.regular);
    }
}
