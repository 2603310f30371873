"""dlib's own face pipeline, the reference of Tools/bench landmarks: the HOG frontal face detector
(upsampled once, as dlib's examples and face_recognition run it) then the 68-point shape predictor,
on each image and on its mirror image. Prints one JSON object: {"IMAGE" or "IMAGE#mirror": [faces]},
each face {"box": [l, t, r, b], "score": s, "points": [[x, y] x 68]}, plus "seconds" per image."""
import json, sys, time

import dlib
import numpy as np
from PIL import Image

detector = dlib.get_frontal_face_detector()
predictor = dlib.shape_predictor(sys.argv[1])
out, seconds = {}, {}
for path in sys.argv[2:]:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    for key, im in ((path, rgb), (path + "#mirror", np.ascontiguousarray(rgb[:, ::-1]))):
        start = time.perf_counter()
        rects, scores, _ = detector.run(im, 1, 0.0)
        faces = []
        for r, s in zip(rects, scores):
            shape = predictor(im, r)
            faces.append({"box": [r.left(), r.top(), r.right(), r.bottom()], "score": s,
                          "points": [[p.x, p.y] for p in shape.parts()]})
        seconds[key] = time.perf_counter() - start
        out[key] = faces
out["seconds"] = seconds
print(json.dumps(out))
