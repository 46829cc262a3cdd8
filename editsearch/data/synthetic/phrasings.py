"""Instruction phrasings per family: (train phrasings, held-out phrasings). {key} fills from params."""

from __future__ import annotations

import string

PHRASINGS: dict[str, tuple[list[str], list[str]]] = {
    "brighter": (
        [
            "make it brighter",
            "brighten the image",
            "increase the brightness",
            "lighten the photo",
            "make the picture lighter",
            "turn up the exposure",
        ],
        ["add more light to the scene", "boost the brightness of this shot"],
    ),
    "darker": (
        [
            "make it darker",
            "darken the image",
            "decrease the brightness",
            "lower the exposure",
            "make the photo dimmer",
            "turn the brightness down",
        ],
        ["make the scene much darker", "underexpose the picture"],
    ),
    "more_contrast": (
        [
            "increase the contrast",
            "add more contrast",
            "make it more contrasty",
            "boost the contrast",
            "make the darks darker and the lights lighter",
            "punch up the contrast",
        ],
        ["give the picture stronger contrast", "raise the contrast a lot"],
    ),
    "less_contrast": (
        [
            "reduce the contrast",
            "lower the contrast",
            "make it look washed out",
            "flatten the contrast",
            "give it a faded, low contrast look",
            "make the image look flat and hazy",
        ],
        ["decrease the contrast", "wash out the photo"],
    ),
    "saturate": (
        [
            "make the colours more vivid",
            "increase the saturation",
            "boost the colors",
            "make it more colorful",
            "saturate the image",
            "make the colours pop",
        ],
        ["crank up the saturation", "make the colors richer and more intense"],
    ),
    "desaturate": (
        [
            "make the colours muted",
            "reduce the saturation",
            "tone down the colors",
            "make it less colorful",
            "desaturate the photo a lot",
            "give it pale, washed colours",
        ],
        ["lower the color saturation", "mute the colours"],
    ),
    "hue_shift": (
        [
            "shift the hue",
            "change all the colours",
            "rotate the hues",
            "swap the colors around",
            "give everything different colours",
            "change the color palette completely",
        ],
        ["shift the colors around the color wheel", "alter the hue of the whole image"],
    ),
    "tint_red": (
        [
            "add a red tint",
            "give it a red tint",
            "make everything reddish",
            "tint the image red",
            "put a red filter on it",
            "give the photo a red cast",
        ],
        ["make the picture look red", "wash the image in red"],
    ),
    "tint_green": (
        [
            "add a green tint",
            "give it a green tint",
            "make everything greenish",
            "tint the image green",
            "put a green filter on it",
            "give the photo a green cast",
        ],
        ["make the picture look green", "wash the image in green"],
    ),
    "tint_blue": (
        [
            "add a blue tint",
            "give it a blue tint",
            "make everything bluish",
            "tint the image blue",
            "put a blue filter on it",
            "give the photo a blue cast",
        ],
        ["make the picture look blue", "wash the image in blue"],
    ),
    "tint_purple": (
        [
            "add a purple tint",
            "give it a violet tint",
            "make everything purplish",
            "tint the image purple",
            "put a purple filter on it",
            "give the photo a magenta-purple cast",
        ],
        ["make the picture look purple", "wash the image in violet"],
    ),
    "warmer": (
        [
            "make it warmer",
            "warm up the colors",
            "increase the color temperature",
            "give it a warm golden tone",
            "make the light warmer",
            "add warmth to the photo",
        ],
        ["make it feel like golden hour", "shift the white balance toward orange"],
    ),
    "cooler": (
        [
            "make it cooler",
            "cool down the colors",
            "decrease the color temperature",
            "give it a cold blue tone",
            "make the light colder",
            "add a cool tone to the photo",
        ],
        ["make it feel icy and cold", "shift the white balance toward blue"],
    ),
    "invert": (
        [
            "invert the colors",
            "make it a negative",
            "invert the image",
            "turn it into a photo negative",
            "reverse all the colours",
            "flip the colors to their opposites",
        ],
        ["make it look like a film negative", "negate the colours"],
    ),
    "grayscale": (
        [
            "make it black and white",
            "convert to grayscale",
            "remove all colour",
            "make it monochrome",
            "turn the photo gray",
            "desaturate completely",
        ],
        ["turn it into a black-and-white photo", "drain all the color out"],
    ),
    "sepia": (
        [
            "apply a sepia filter",
            "make it sepia",
            "give it a sepia tone",
            "make it brownish like an old print",
            "turn it into a sepia photograph",
            "add a vintage brown tone",
        ],
        ["make it look like an antique sepia photo", "tone the image in sepia brown"],
    ),
    "posterize": (
        [
            "posterize the image",
            "reduce the number of colours",
            "make it look like a poster",
            "use only a few flat tones",
            "apply a posterize effect",
            "band the colors into a few levels",
        ],
        ["turn it into a flat-color poster", "cut the image down to a handful of colors"],
    ),
    "watercolor": (
        [
            "make it a watercolor painting",
            "turn it into a watercolour",
            "paint it in watercolor",
            "give it a watercolor look",
            "make it look painted with watercolours",
            "apply a watercolor effect",
        ],
        ["render the scene as a soft watercolour", "make this look like a watercolor on paper"],
    ),
    "oil_paint": (
        [
            "make it an oil painting",
            "turn it into an oil painting",
            "paint it in oils",
            "give it an oil paint look",
            "apply an oil painting filter",
            "make it look painted with a brush",
        ],
        ["render the photo as an oil painting on canvas", "make it look like a painted canvas"],
    ),
    "pencil_sketch": (
        [
            "turn it into a pencil sketch",
            "make it a pencil drawing",
            "draw it in pencil",
            "convert to a sketch",
            "make it look hand drawn with graphite",
            "apply a sketch effect",
        ],
        ["make it look like a charcoal pencil drawing", "render it as a black and white sketch"],
    ),
    "cartoon": (
        [
            "make it a cartoon",
            "cartoonize the image",
            "turn it into a cartoon drawing",
            "give it a comic style with bold outlines",
            "make it look animated",
            "apply a cartoon filter",
        ],
        ["render it like a comic book illustration", "make it look like a cel-shaded cartoon"],
    ),
    "pixel_art": (
        [
            "make it pixel art",
            "pixelate the image",
            "turn it into 8-bit pixel art",
            "make it look like a retro video game",
            "give it big blocky pixels",
            "apply a pixelation effect",
        ],
        ["render it in a low-resolution retro game style", "make it chunky and pixelated"],
    ),
    "halftone": (
        [
            "apply a halftone effect",
            "make it look printed with dots",
            "turn it into a halftone print",
            "give it a newspaper dot pattern",
            "make it a comic-book dot print",
            "convert to halftone dots",
        ],
        ["render it as a pattern of printed dots", "make it look like an old newspaper photo"],
    ),
    "emboss": (
        [
            "emboss the image",
            "apply an emboss effect",
            "make it look embossed",
            "turn it into a relief",
            "make it look stamped into metal",
            "give it a raised 3D relief look",
        ],
        ["make it look carved like a bas-relief", "press the picture into embossed paper"],
    ),
    "blur": (
        [
            "blur the image",
            "make it blurry",
            "add a gaussian blur",
            "make it out of focus",
            "soften the photo",
            "defocus the picture",
        ],
        ["make everything fuzzy and unsharp", "apply a strong blur"],
    ),
    "sharpen": (
        [
            "sharpen the image",
            "make it sharper",
            "increase the sharpness",
            "make the edges crisper",
            "apply a sharpening filter",
            "enhance the details and edges",
        ],
        ["make the photo look crisp and sharp", "boost the sharpness a lot"],
    ),
    "noise": (
        [
            "add noise",
            "make it noisy",
            "add random noise to the image",
            "add colour noise",
            "make it look like a high-ISO photo",
            "add digital noise",
        ],
        ["sprinkle random pixel noise over it", "make the picture grainy with colored speckles"],
    ),
    "film_grain": (
        [
            "add film grain",
            "give it a grainy film look",
            "make it look like analog film",
            "add grain like old film stock",
            "apply a film grain effect",
            "make it grainy",
        ],
        ["make it look shot on grainy 35mm film", "add a vintage film texture"],
    ),
    "flip_horizontal": (
        [
            "flip it horizontally",
            "mirror the image",
            "flip left to right",
            "make a mirror image",
            "reverse it horizontally",
            "mirror it left-right",
        ],
        ["flip the picture along the vertical axis", "swap the left and right sides"],
    ),
    "flip_vertical": (
        [
            "flip it vertically",
            "turn it upside down",
            "flip top to bottom",
            "mirror it vertically",
            "make it upside down",
            "flip the image upside-down",
        ],
        ["flip the picture along the horizontal axis", "invert it top to bottom"],
    ),
    "rotate_90": (
        [
            "rotate it 90 degrees {direction}",
            "rotate the image 90 degrees",
            "turn it on its side",
            "rotate by a quarter turn",
            "turn the picture sideways",
            "give it a 90 degree rotation",
        ],
        ["turn the image a quarter turn {direction}", "rotate the photo by ninety degrees"],
    ),
    "tilt": (
        [
            "tilt the image",
            "rotate it slightly",
            "make it a bit crooked",
            "rotate it by a small angle",
            "tilt the picture to one side",
            "give it a slight rotation",
        ],
        ["make the horizon slanted", "turn the photo a few degrees"],
    ),
    "zoom_in": (
        [
            "zoom in",
            "crop it closer",
            "zoom into the center",
            "crop in on the middle",
            "make it a close-up",
            "magnify the image",
        ],
        ["move the camera closer", "crop tightly around the middle"],
    ),
    "frame": (
        [
            "add a {color} frame",
            "put a {color} border around it",
            "add a frame",
            "add a border",
            "frame the picture",
            "surround the image with a thick border",
        ],
        ["give the photo a {color} picture frame", "put it in a frame"],
    ),
    "vignette": (
        [
            "add a vignette",
            "darken the corners",
            "apply a vignette effect",
            "make the edges darker",
            "give it dark vignetted corners",
            "fade the borders to black",
        ],
        ["add a dark vignette around the edges", "make it darker toward the edges"],
    ),
    "snow": (
        [
            "add snow",
            "make it snow",
            "add falling snowflakes",
            "make it a snowy scene",
            "cover it with snowfall",
            "add a snowstorm",
        ],
        ["make it look like it is snowing", "sprinkle snowflakes all over"],
    ),
    "rain": (
        [
            "add rain",
            "make it rain",
            "add falling rain",
            "make it a rainy day",
            "add rain streaks",
            "make it look stormy and wet",
        ],
        ["make it look like it is pouring", "add a rain shower"],
    ),
    "fog": (
        ["add fog", "make it foggy", "add mist", "make it hazy", "cover the scene in fog", "add a thick haze"],
        ["make it look like a misty morning", "shroud everything in fog"],
    ),
    "shapes": (
        [
            "add some colorful shapes",
            "paste shapes on the image",
            "add circles, squares and stars",
            "scatter geometric shapes over it",
            "put some colored shapes on top",
            "add bright shapes",
        ],
        ["decorate it with random geometric shapes", "stick colorful shapes all over it"],
    ),
    "smiley": (
        [
            "add a smiley face",
            "put a smiley on it",
            "add a yellow smiley",
            "stick a happy face on the image",
            "draw a smiley face on it",
            "add a smiley emoji",
        ],
        ["place a big yellow smiley sticker on the picture", "add a smiling face icon"],
    ),
    "text": (
        [
            "add the text '{text}'",
            "write '{text}' on the image",
            "add a caption",
            "put some text on it",
            "overlay the word '{text}'",
            "add a title in bold letters",
        ],
        ["label the image with '{text}'", "write a big caption on the photo"],
    ),
    "grayscale_frame": (
        [
            "make it black and white and add a frame",
            "convert to grayscale with a border",
            "black and white with a frame",
            "remove the colour and frame it",
            "make it monochrome and put a border around it",
            "grayscale plus a frame",
        ],
        ["turn it into a framed black-and-white photo", "drain the colour, then add a frame"],
    ),
    "old_photo": (
        [
            "make it look like an old photo",
            "sepia with a vignette",
            "make it vintage",
            "give it an old-fashioned sepia look with dark corners",
            "age the photo",
            "make it a sepia photo with darkened edges",
        ],
        ["make it look like a photograph from 1900", "give it an antique look"],
    ),
    "winter": (
        [
            "make it winter",
            "make it cold and snowy",
            "turn it into a winter scene",
            "add snow and a cold blue tone",
            "make it look like a snowy winter day",
            "cool it down and add snow",
        ],
        ["make it look like a blizzard in the cold", "change the season to winter"],
    ),
    "mirror_brighter": (
        [
            "mirror it and make it brighter",
            "flip it horizontally and brighten it",
            "make a brighter mirror image",
            "flip left to right and increase brightness",
            "brighten and mirror the photo",
            "mirror the image and lighten it",
        ],
        ["reverse it left to right and add light", "make it lighter and flipped"],
    ),
    "stormy": (
        [
            "make it a dark rainy night",
            "darken it and add rain",
            "make it stormy and dark",
            "add rain and make it gloomy",
            "turn it into a dark, rainy scene",
            "make it darker with rain",
        ],
        ["make it look like a thunderstorm at dusk", "make it a gloomy downpour"],
    ),
    "sketch_frame": (
        [
            "make it a framed pencil sketch",
            "turn it into a pencil drawing with a border",
            "sketch it in pencil and add a frame",
            "a pencil drawing in a frame",
            "convert to a sketch and frame it",
            "make it a hand-drawn sketch with a border",
        ],
        ["render it as a framed graphite drawing", "draw it in pencil, then put it in a frame"],
    ),
}


def fill(phrase: str, params: dict) -> str:
    """`phrase` with its {placeholders} filled from an edit's params."""
    fields = [f for _, f, _, _ in string.Formatter().parse(phrase) if f]
    return phrase.format(**{f: params[f] for f in fields}) if fields else phrase
