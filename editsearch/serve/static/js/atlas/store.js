// The Atlas view's shared state: the map, the view on it, the colour mode, the highlighted results.

export const LABELS = 40; // cluster names drawn at most, largest clusters first, none overlapping
export const LABEL_RINGS = 3; // a name goes beside its cluster's box, up to this many label heights further out
export const LEGEND = 14; // legend rows before "N more"
export const THUMB = 128; // hover thumbnail size (px)

export const atlas = {
  data: null, // the parsed map (mapData)
  loading: null, // the pending load
  colour: "cluster", // cluster | source | audit
  paint: null, // per-point colours and draw order for the colour mode
  hits: new Map(), // edit id -> search result highlighted on the map
  hover: -1, // index of the point under the pointer
  view: null, // {cx, cy, scale}: the data point at the canvas centre, device px per data unit
  fitScale: 1,
  drag: null,
  image: null,
  frame: 0,
  frameBase: false,
  labels: [], // the cluster names drawn, for tests and tools
  texts: new Map(), // edit id -> instruction, for the hover card
  timer: 0,
  timing: {}, // ms since navigation: fetched, parsed, drawn (the first draw); for the benchmark
};

export const dpr = () => window.devicePixelRatio || 1;
