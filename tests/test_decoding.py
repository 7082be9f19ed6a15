"""The decoding shared by extraction: every image mode as RGB, EXIF orientation, bombs, reduced-scale JPEG, resizing."""
import numpy as np
import pytest
from PIL import Image

import decoding


def load_rgb(path, size):
    """The whole image at `size` as (height, width, 3) uint8, as the extract stage decodes it."""
    with open(path, "rb") as handle:
        return decoding.decode_rgb(handle.read(), size)[0]


def odd_images(folder):
    """One file per awkward case; returns {name: expected outcome ('ok' or 'rejected')}."""
    base = Image.new("RGB", (60, 40), (200, 30, 30))
    base.convert("RGBA").save(folder / "alpha.png")
    base.convert("P", palette=Image.ADAPTIVE).save(folder / "palette.png", transparency=0)
    base.convert("L").save(folder / "gray.jpg")
    base.convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(np.full((40, 60), 60000, dtype=np.uint16)).save(folder / "sixteen.png")
    frames = [Image.new("RGB", (30, 30), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is not a picture")
    data = (folder / "gray.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    return {"alpha": "ok", "palette": "ok", "gray": "ok", "cmyk": "ok", "sixteen": "ok", "animated": "ok",
            "empty": "rejected", "notes": "rejected", "truncated": "rejected"}


def test_every_mode_decodes_as_rgb_or_is_rejected_clearly_as_rgb_or_rejects_clearly(tmp_path):
    expected = odd_images(tmp_path)
    for name, outcome in expected.items():
        path = next(tmp_path.glob(f"{name}.*"))
        if outcome == "ok":
            pixels = load_rgb(str(path), (32, 32))
            assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8, name
        else:
            with pytest.raises(decoding.ImageRejected):
                load_rgb(str(path), (32, 32))
    sixteen = load_rgb(str(tmp_path / "sixteen.png"), (8, 8))
    assert 220 < sixteen.mean() < 240  # 60000/65535 of full scale, not clipped to white or black
    assert tuple(load_rgb(str(tmp_path / "alpha.png"), (8, 8))[4, 4]) == (200, 30, 30)


def test_exif_orientation_is_honoured(tmp_path):
    stored = Image.new("RGB", (80, 40), (255, 0, 0))
    stored.paste((0, 0, 255), (40, 0, 80, 40))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise: left side ends on top
    stored.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    pixels = load_rgb(str(tmp_path / "rotated.jpg"), (40, 40))
    assert pixels[5, 20, 0] > 200 and pixels[5, 20, 2] < 60  # top is red
    assert pixels[35, 20, 2] > 200 and pixels[35, 20, 0] < 60  # bottom is blue


def test_decompression_bombs_are_rejected(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(decoding.ImageRejected, match="too large"):
        load_rgb(str(tmp_path / "big.png"), (8, 8))


def test_large_jpegs_decode_at_a_reduced_scale_to_the_same_picture(tmp_path):
    import skimage.data

    photo = Image.fromarray(skimage.data.astronaut()).resize((2048, 2048), Image.BICUBIC)
    photo.save(tmp_path / "large.jpg", quality=92)
    data = (tmp_path / "large.jpg").read_bytes()
    views = decoding.decode_rgb(data, (224, 224), (0.8,))
    with Image.open(tmp_path / "large.jpg") as full:  # decoded at full size, as without the reduced scale
        full = full.convert("RGB")
        whole = np.asarray(full.resize((224, 224), Image.BILINEAR), dtype=np.float64)
    assert views.shape == (2, 224, 224, 3)
    assert np.abs(views[0] - whole).mean() < 3  # of 255: the same picture
    with Image.open(tmp_path / "large.jpg") as image:
        image.draft("RGB", (280, 280))
        assert image.size == (512, 512)  # 1/4 scale still covers the 0.8 crop at 224 pixels


def test_resize_matches_pillows_bilinear_within_rounding():
    import skimage.data

    photo = skimage.data.astronaut()[::4, ::3].copy()  # 128 x 171, not square
    for size in ((224, 224), (60, 40)):  # up and down
        ours = decoding.resize_bilinear(photo, size).astype(int)
        pillow = np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR), dtype=int)
        assert ours.shape == pillow.shape == (size[1], size[0], 3)
        assert np.abs(ours - pillow).max() <= 2 and np.abs(ours - pillow).mean() < 0.1



def test_rejection_reasons_are_the_same_in_every_run(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture")
    reasons = set()
    for _ in range(2):
        with pytest.raises(decoding.ImageRejected) as error:
            load_rgb(tmp_path / "notes.jpg", (8, 8))
        reasons.add(str(error.value))
    assert len(reasons) == 1 and " at 0x" not in reasons.pop()


def test_a_format_the_mosaic_cannot_read_is_rejected_whatever_its_extension(tmp_path):
    """Pillow reads BMP, TGA, PCX, ICO and PPM; libvips, which makes the mosaic, does not: such a file would
    be published as a grey square, so it is rejected here, named by what it is."""
    picture = Image.new("RGB", (16, 16), (200, 30, 30))
    for name, kind in (("bmp", "BMP"), ("tga", "TGA"), ("pcx", "PCX"), ("ico", "ICO"), ("ppm", "PPM")):
        picture.save(tmp_path / f"disguised-{name}.jpg", format=kind)
        data = (tmp_path / f"disguised-{name}.jpg").read_bytes()
        assert decoding.decode_rgb(data, (8, 8)).shape == (1, 8, 8, 3)  # Pillow alone reads it
        with pytest.raises(decoding.ImageRejected, match=f"a {kind} file: the mosaic stage reads only JPEG, PNG"):
            decoding.decode_rgb(data, (8, 8), formats={"JPEG", "PNG"})
    picture.save(tmp_path / "real.jpg")
    assert decoding.decode_rgb((tmp_path / "real.jpg").read_bytes(), (8, 8), formats={"JPEG", "PNG"}).shape[0] == 1
