"""Art and asset building for the local avatar (internal to lib.emulators.engines.face).

Everything expensive happens once per (avatar, frame size) and is shared between renderers
(and, through this user's cache directory, between processes):
vector art is drawn with PIL at 2-3x and downsampled with LANCZOS (anti-aliasing), then cut
into layers:

- background variants (studio backdrop + body), one per breathing offset;
- the head layer (hair, neck, face) as premultiplied alpha, moved by whole pixels per frame;
- opaque sprites for the eyes (openness x gaze x smiling lids), brows (emotion x accent) and
  mouth (open x wide x round x smile, plus pressed lips). They are crops of the head with the
  feature drawn in, so pasting them needs no blending (the mouth is two stacked rectangles,
  wide at the lips and narrow down to the chin, so that both stay inside the face);
- the front of the collar, re-blended last so the moving neck always disappears into it.

The art is drawn in design units: 1 unit = 1 % of the height of a wider, chest-up framing,
x right of the centre line, y down from that framing's top. `View` maps them to the real
frame, a head-and-shoulders close-up (see ZOOM and TOP), so every part of the art, blur
radius and line width scales together.

Modules, each importing only those listed after it: stored (what was drawn, kept on disk
between processes) -> assets (the cached layers and sprites, and blending them) -> features,
head, hair, body (the parts of the art) -> canvas (drawing in design units) -> expressions,
palette, geometry (units, curves, landmarks).
"""
