"""Synthetic scenes for training the shipped detector: drone and street views with labelled objects.

No real photograph is needed: every surface and object is drawn procedurally, with the randomisation (colour,
scale, rotation, perspective, one sun per scene with consistent shadows, haze, blur, noise, JPEG) that lets a model
trained on them meet real frames. One module per concept; import each name from the module that defines it:

    detectors.video.synthetic.classes         CLASS_NAMES, CLASS_IDS (the fixed class order of the model)
    detectors.video.synthetic.textures        fractal_noise and the ground, water, roof and wall textures
    detectors.video.synthetic.canvas          Sprite, ObjectMask, Canvas (z-order blending, shadows, occlusion)
    detectors.video.synthetic.objects         top-view sprites (vehicles, boats, people, stalls, carts, piles,
                                              smoke, fire) and rotate
    detectors.video.synthetic.street_objects  side-view sprites (vehicles, people, stalls, carts)
    detectors.video.synthetic.catalogue       draw(kind, view, rng, size) -> Sprite
    detectors.video.synthetic.layout          Sun, BuiltScene, sample_in
    detectors.video.synthetic.aerial          build_aerial (30-120 m drone view: roads, roofs, rivers and boats)
    detectors.video.synthetic.street          build_street (fixed camera: perspective road, pavements, shopfronts)
    detectors.video.synthetic.shading         CameraEffects, apply_camera (exposure, haze, blur, noise)
    detectors.video.synthetic.scene           RenderOptions, RenderedScene, LabelledObject, render_scene
    detectors.video.synthetic.seen            scene_seen: a generated view in which a detector finds a kind
    detectors.video.synthetic.dataset         generate(out_dir, n, seed=...) -> DatasetInfo (YOLO layout,
                                              data.yaml, manifest)

Labels come from each object's visible mask after occlusion and clipping, so a box covers what can be seen.
"""
