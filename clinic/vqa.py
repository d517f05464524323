"""Visual QA benchmarks as image + question tasks for vision-language checkpoints.

Each loader reads the question file its authors release and finds each image by file name anywhere under
that file's directory (the releases keep images in different sub-folders). Tasks are in the
visual_diagnosis domain with the image attached (task["image"], an absolute path read through Pillow)
and what the benchmark says about it in task["image_info"] (view_image returns it). Scoring follows each
benchmark's paper: closed questions (yes/no, or a choice between named findings) and open questions by
exact match after normalisation (lower case, no punctuation or articles: VQA-RAD, SLAKE, PathVQA,
VQA-Med-2021's strict accuracy), Quilt-VQA's open questions by recall of the reference's words (as LLaVA-Med
scores them), PMC-VQA as 4-way multiple choice.

  vqa_rad       the release, VQA_RAD Dataset Public.json: [{"qid", "qid_linked_id", "image_name", "question",
                "answer", "answer_type": "OPEN"|"CLOSED", "phrase_type", "image_organ", "evaluation", ...}], of
                which the test_* phrase types are the test set; or a split file such as MEVF's testset.json
                (Nguyen et al. 2019; the same items without the release's qid_linked_id/evaluation fields),
                read whole: the file is the test set
  slake         SLAKE test.json: [{"qid", "img_name", "question", "answer", "answer_type", "q_lang",
                "modality", "location"}]; English questions only (q_lang "en"), as the paper reports
  pathvqa       PathVQA qas/test/test_qa.pkl ([{"image", "question", "answer"}], read with a loader that
                accepts only plain lists, dicts and strings), the authors' repository's QA_pairs_*.json
                ([{"Image_ID", "Questions", "Answers"}]), or a JSON/JSONL export
  pmc_vqa       PMC-VQA test.csv: Figure_path, Question, Answer, Choice A-D ("A:text"), Answer_label
  vqa_med_2021  VQA-Med 2021's test release: a questions file (image_id|question lines, or the evaluator's
                MSCOCO-style questions JSON) and the reference answers (image_id|answer[|alternative...] lines)
                in one folder, joined by image id; alternatives count as correct, as the official evaluator
                scores them. Pass the folder or either file; an older image_id|question|answer file loads too
  quilt_vqa     Quilt-VQA JSON/JSONL/CSV export: image, question, answer, answer_type ("open"/"closed")
Hugging Face Hub parquet exports (image bytes inline, written once to <file stem>_images/ beside the file)
load too for vqa_rad, pathvqa and quilt_vqa, through pyarrow (an optional extra).
"""
import json
import os
import pickle

from clinic import files
from clinic.benchitems import choice_task, field, read_rows, saved_image, source_name, task

IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


class ImageFinder:
    """Image files under a directory, found by any trailing part of their path ('imgs/xmlab1/source.jpg',
    'xmlab1/source.jpg', 'source.jpg') or by file name without extension; a name that fits several files
    is an error, never a guess."""

    def __init__(self, root):
        self.root, self.by = root, {}
        for d, _, names in os.walk(root, followlinks=True):     # an image folder may be a link to the download
            for n in names:
                if n.lower().endswith(IMAGE_EXT):
                    p = os.path.abspath(os.path.join(d, n))
                    parts = os.path.relpath(p, root).replace(os.sep, "/").split("/")
                    for key in {"/".join(parts[k:]) for k in range(len(parts))} | {os.path.splitext(n)[0]}:
                        self.by.setdefault(key, set()).add(p)

    def __call__(self, name, where):
        if os.path.isabs(str(name)) and os.path.exists(name):      # an inline image already written out
            return str(name)
        name = str(name).replace("\\", "/").strip("/")
        for key in (name, os.path.splitext(name)[0]):
            found = self.by.get(key, set())
            if len(found) == 1:
                return next(iter(found))
            if len(found) > 1:
                raise files.DataError(f"{where}: image {name!r} fits {len(found)} files under {self.root}")
        raise files.DataError(f"{where}: no image {name!r} under {self.root}")


def vqa_task(source, i, question, answer, image, closed, metric="exact", accept=(), info=None):
    """A yes/no closed question is read as yes/no (reward.parse_answer); any other answer as short text."""
    yes_no = str(answer).strip().lower() in ("yes", "no")
    spec = {"type": "yesno", "value": str(answer).strip().lower()} if yes_no else \
        {"type": "text", "value": str(answer), "options": [], "metric": metric, "accept": [str(a) for a in accept]}
    how = "Submit yes or no." if yes_no else "Submit a word or a short phrase."
    return task(source, i, f"{question}\n{how}", spec, expected=[{"name": "view_image", "arguments": {}}],
                domain="visual_diagnosis", image=image, image_info={"closed": bool(closed), **(info or {})})


def _rows_and_images(path):
    return read_rows(path), ImageFinder(os.path.dirname(os.path.abspath(path)))


def _closed(r, answer):
    """CLOSED/OPEN from the release's answer_type; parquet exports without it: yes/no answers are closed."""
    kind = field(r, "answer_type", required=False)
    return str(kind).upper() == "CLOSED" if kind else str(answer).strip().lower() in ("yes", "no")


def load_vqa_rad(path):
    """The release's test_* items, or every item of a split file (which has no qid_linked_id / evaluation)."""
    rows, find = _rows_and_images(path)
    release = any("qid_linked_id" in r or "evaluation" in r for r in rows)
    if release:
        rows = [r for r in rows if str(r.get("phrase_type", "")).startswith("test")]
    src, out = source_name("vqa_rad", path), []
    for i, r in enumerate(rows):
        where = f"{path} item {i + 1}"
        image = saved_image(field(r, "image_name", "image", where=where), path, i)
        answer = field(r, "answer", where=where)
        out.append(vqa_task(src, i, field(r, "question", where=where), answer, find(image, where), _closed(r, answer),
                            info={"modality": "radiology", "organ": str(r.get("image_organ", "")).lower()}))
    return out


def load_slake(path):
    rows, find = _rows_and_images(path)
    rows = [r for r in rows if r.get("q_lang", "en") == "en"]
    src, out = source_name("slake", path), []
    for i, r in enumerate(rows):
        where = f"{path} qid {r.get('qid', i + 1)}"
        out.append(vqa_task(src, i, field(r, "question", where=where), field(r, "answer", where=where),
                            find(field(r, "img_name", where=where), where),
                            str(field(r, "answer_type", where=where)).upper() == "CLOSED",
                            info={"modality": str(r.get("modality", "")), "location": str(r.get("location", ""))}))
    return out


class _PlainUnpickler(pickle.Unpickler):
    """PathVQA ships pickles: accept only built-in containers and strings, never code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a PathVQA pickle")


def load_pathvqa(path):
    if path.endswith(".pkl"):
        try:
            with open(path, "rb") as f:
                rows = _PlainUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
            raise files.DataError(f"{path}: {e}") from None
        root = os.path.dirname(os.path.abspath(path))       # qas/test/ -> the release root holds images/
        find = ImageFinder(os.path.dirname(os.path.dirname(root)) if os.path.basename(os.path.dirname(root)) ==
                           "qas" else root)
    else:
        rows, find = _rows_and_images(path)
    src, out = source_name("pathvqa", path), []
    for i, r in enumerate(rows):
        where = f"{path} item {i + 1}"
        answer = field(r, "answer", "Answers", where=where)
        image = saved_image(field(r, "image", "Image_ID", where=where), path, i)
        out.append(vqa_task(src, i, field(r, "question", "Questions", where=where), answer, find(image, where),
                            str(answer).strip().lower() in ("yes", "no"), info={"modality": "pathology"}))
    return out


def load_pmc_vqa(path):
    rows, find = _rows_and_images(path)
    src, out = source_name("pmc_vqa", path), []
    for i, r in enumerate(rows):
        where = f"{path} row {i + 2}"
        options = [str(field(r, f"Choice {x}", where=where)).strip() for x in "ABCD"]
        options = [o[2:].strip() if o[:2] in (f"{x}:" for x in "ABCD") else o for o in options]
        letter = str(field(r, "Answer_label", where=where)).strip().upper()
        out.append(choice_task(src, i, field(r, "Question", where=where), options, letter,
                               expected=[{"name": "view_image", "arguments": {}}], domain="visual_diagnosis",
                               image=find(field(r, "Figure_path", where=where), where),
                               image_info={"closed": True, "modality": "figure from a PubMed Central article"}))
    return out


def _pipe_lines(path):
    """[(line number, [fields])] of a pipe-separated file, blank lines left out."""
    with open(path, encoding="utf-8-sig") as f:
        return [(n, [p.strip() for p in line.rstrip("\n").split("|")]) for n, line in enumerate(f, 1) if line.strip()]


def _vqa_med_parts(folder):
    """The questions (image -> question) and answers (image -> [answer, alternatives...]) files of a folder, told
    apart by content: a questions line's text ends with '?', the evaluator's questions JSON has "questions"."""
    questions, answers = {}, {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            if isinstance(data, dict) and isinstance(data.get("questions"), list):
                questions.update({str(q["question_id"]): q["question"] for q in data["questions"]})
        elif name.endswith(".txt"):
            lines = _pipe_lines(path)
            if lines and all(len(p) == 2 and p[1].endswith("?") for _, p in lines):
                questions.update({p[0]: p[1] for _, p in lines})
            elif lines and all(len(p) >= 2 and not p[1].endswith("?") for _, p in lines):
                answers.update({p[0]: p[1:] for _, p in lines})
    return questions, answers


def load_vqa_med_2021(path):
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    find = ImageFinder(folder)
    src, out = source_name("vqa_med_2021", path), []
    lines = [] if os.path.isdir(path) else _pipe_lines(path)
    if lines and all(len(p) >= 3 and p[1].endswith("?") for _, p in lines):
        for n, p in lines:                     # the older single file: image_id|question|answer[|alternative...]
            out.append(vqa_task(src, len(out), p[1], p[2], find(p[0], f"{path} line {n}"), False, accept=p[3:],
                                info={"modality": "radiology", "asks": "the main abnormality"}))
        return out
    questions, answers = _vqa_med_parts(folder)
    if not questions or not answers:
        raise files.DataError(f"{path}: VQA-Med 2021 needs its questions file (image_id|question) and its reference "
                              f"answers (image_id|answer|...) in one folder; found {len(questions)} questions, "
                              f"{len(answers)} answers")
    missing = sorted(set(questions) - set(answers))
    if missing:
        raise files.DataError(f"{folder}: {len(missing)} questions have no reference answer (the first: {missing[0]})")
    for image_id in sorted(questions):
        refs = answers[image_id]
        out.append(vqa_task(src, len(out), questions[image_id], refs[0], find(image_id, f"{folder} {image_id}"),
                            False, accept=refs[1:], info={"modality": "radiology", "asks": "the main abnormality"}))
    return out


def load_quilt_vqa(path):
    rows, find = _rows_and_images(path)
    src, out = source_name("quilt_vqa", path), []
    for i, r in enumerate(rows):
        where = f"{path} item {i + 1}"
        closed = str(field(r, "answer_type", where=where)).lower() == "closed"
        out.append(vqa_task(src, i, field(r, "question", where=where), field(r, "answer", where=where),
                            find(saved_image(field(r, "image", where=where), path, i), where), closed,
                            metric="exact" if closed else "recall", info={"modality": "histopathology"}))
    return out


LOADERS = {"vqa_rad": load_vqa_rad, "slake": load_slake, "pathvqa": load_pathvqa, "pmc_vqa": load_pmc_vqa,
           "vqa_med_2021": load_vqa_med_2021, "quilt_vqa": load_quilt_vqa}
