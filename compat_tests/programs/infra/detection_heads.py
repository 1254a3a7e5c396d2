"""Single-stage detector pieces as written in from-scratch RetinaNet/YOLO/FCOS repos (no
torchvision): anchor generation with torch.meshgrid(indexing='ij'), box IoU with broadcasting and
clamp, anchor-to-target matching with max/argmax, box encoding/decoding (log/exp of sizes),
sigmoid focal loss and GIoU loss written by hand, smooth_l1 on positives, a tiny conv FPN head,
and greedy NMS with sort + a while loop + index masks, batched by class via coordinate offsets."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def generate_anchors(feat_sizes, strides, sizes, ratios=(0.5, 1.0, 2.0)):
    all_anchors = []
    for (h, w), stride, size in zip(feat_sizes, strides, sizes):
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                indexing='ij')
        cx = (xs.reshape(-1) + 0.5) * stride
        cy = (ys.reshape(-1) + 0.5) * stride
        ratios_t = torch.tensor(ratios)
        ws = size / torch.sqrt(ratios_t)
        hs = size * torch.sqrt(ratios_t)
        base = torch.stack([-ws, -hs, ws, hs], dim=1) / 2               # A, 4
        centers = torch.stack([cx, cy, cx, cy], dim=1)                   # HW, 4
        all_anchors.append((centers[:, None, :] + base[None, :, :]).reshape(-1, 4))
    return torch.cat(all_anchors, dim=0)


def box_area(b):
    return (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)


def box_iou(a, b):
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (box_area(a)[:, None] + box_area(b)[None, :] - inter)


def giou_loss(pred, target, eps=1e-7):
    x1 = torch.max(pred[:, 0], target[:, 0]); y1 = torch.max(pred[:, 1], target[:, 1])
    x2 = torch.min(pred[:, 2], target[:, 2]); y2 = torch.min(pred[:, 3], target[:, 3])
    inter = (x2 - x1).clamp(0) * (y2 - y1).clamp(0)
    union = box_area(pred) + box_area(target) - inter + eps
    iou = inter / union
    cx1 = torch.min(pred[:, 0], target[:, 0]); cy1 = torch.min(pred[:, 1], target[:, 1])
    cx2 = torch.max(pred[:, 2], target[:, 2]); cy2 = torch.max(pred[:, 3], target[:, 3])
    c_area = (cx2 - cx1) * (cy2 - cy1) + eps
    return (1 - (iou - (c_area - union) / c_area)).mean()


def encode(anchors, gt, weights=(10.0, 10.0, 5.0, 5.0)):
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    gx, gy = gt[:, 0] + 0.5 * gw, gt[:, 1] + 0.5 * gh
    wx, wy, ww, wh = weights
    return torch.stack([wx * (gx - ax) / aw, wy * (gy - ay) / ah, ww * torch.log(gw / aw), wh * torch.log(gh / ah)], 1)


def decode(anchors, deltas, weights=(10.0, 10.0, 5.0, 5.0)):
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    wx, wy, ww, wh = weights
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    dw = torch.clamp(deltas[:, 2] / ww, max=math.log(1000.0 / 16))
    dh = torch.clamp(deltas[:, 3] / wh, max=math.log(1000.0 / 16))
    cx, cy = dx * aw + ax, dy * ah + ay
    w, h = torch.exp(dw) * aw, torch.exp(dh) * ah
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction='sum'):
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction='none')
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.sum() if reduction == 'sum' else loss.mean()


def nms(boxes, scores, iou_threshold):
    order = scores.argsort(descending=True)
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i.item())
        if order.numel() == 1:
            break
        ious = box_iou(boxes[i].unsqueeze(0), boxes[order[1:]]).squeeze(0)
        order = order[1:][ious <= iou_threshold]
    return torch.tensor(keep, dtype=torch.long)


def batched_nms(boxes, scores, idxs, iou_threshold):
    max_coordinate = boxes.max()
    offsets = idxs.to(boxes) * (max_coordinate + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


class Head(nn.Module):
    def __init__(self, num_anchors=3, num_classes=2, ch=16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, ch, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.Conv2d(ch, ch, 3, stride=2, padding=1), nn.ReLU())
        self.down = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
        self.lateral = nn.Conv2d(ch, ch, 1)
        self.cls = nn.Conv2d(ch, num_anchors * num_classes, 3, padding=1)
        self.reg = nn.Conv2d(ch, num_anchors * 4, 3, padding=1)
        self.num_classes = num_classes
        prior = 0.01
        nn.init.constant_(self.cls.bias, -math.log((1 - prior) / prior))

    def forward(self, x):
        p3 = self.stem(x)                                   # stride 4
        p4 = F.relu(self.down(p3))                          # stride 8
        p3 = self.lateral(p3) + F.interpolate(p4, size=p3.shape[-2:], mode='nearest')
        cls_out, reg_out = [], []
        for f in (p3, p4):
            n = f.shape[0]
            c = self.cls(f).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes)
            r = self.reg(f).permute(0, 2, 3, 1).reshape(n, -1, 4)
            cls_out.append(c)
            reg_out.append(r)
        return torch.cat(cls_out, 1), torch.cat(reg_out, 1)


def make_batch(rng, n=4, size=32):
    imgs = rng.normal(0, 0.1, size=(n, 3, size, size)).astype(np.float32)
    targets = []
    for i in range(n):
        boxes, labels = [], []
        for _ in range(rng.randint(1, 3)):
            w, h = rng.randint(6, 14, 2)
            x0, y0 = rng.randint(0, size - w), rng.randint(0, size - h)
            c = rng.randint(0, 2)
            imgs[i, c, y0:y0 + h, x0:x0 + w] += 1.0
            boxes.append([x0, y0, x0 + w, y0 + h])
            labels.append(c)
        targets.append((torch.tensor(boxes, dtype=torch.float32), torch.tensor(labels)))
    return torch.from_numpy(imgs), targets


def compute_loss(cls_out, reg_out, anchors, targets, num_classes=2):
    cls_losses, reg_losses, giou_losses, npos_all = [], [], [], 0
    for b, (gt_boxes, gt_labels) in enumerate(targets):
        iou = box_iou(anchors, gt_boxes)                  # A, G
        max_iou, matched = iou.max(dim=1)
        # guarantee every gt gets its best anchor
        best_anchor = iou.argmax(dim=0)
        max_iou[best_anchor] = 1.0
        matched[best_anchor] = torch.arange(gt_boxes.shape[0])
        pos = max_iou >= 0.5
        ignore = (max_iou >= 0.4) & ~pos
        cls_target = torch.zeros_like(cls_out[b])
        cls_target[pos, gt_labels[matched[pos]]] = 1.0
        valid = ~ignore
        npos = max(int(pos.sum()), 1)
        npos_all += int(pos.sum())
        cls_losses.append(sigmoid_focal_loss(cls_out[b][valid], cls_target[valid]) / npos)
        reg_t = encode(anchors[pos], gt_boxes[matched[pos]])
        reg_losses.append(F.smooth_l1_loss(reg_out[b][pos], reg_t, beta=1.0 / 9, reduction='sum') / npos)
        giou_losses.append(giou_loss(decode(anchors[pos], reg_out[b][pos]), gt_boxes[matched[pos]]))
    return torch.stack(cls_losses).mean(), torch.stack(reg_losses).mean(), torch.stack(giou_losses).mean(), npos_all


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--init-state', default=None)
    parser.add_argument('--steps', type=int, default=6)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rng = np.random.RandomState(0)

    anchors = generate_anchors([(8, 8), (4, 4)], [4, 8], [8.0, 16.0])
    model = Head()
    if args.init_state:
        if os.path.exists(args.init_state):
            model.load_state_dict(torch.load(args.init_state))
        else:
            torch.save(model.state_dict(), args.init_state)
    imgs, targets = make_batch(rng)
    # encode/decode round trip
    gt = targets[0][0]
    rt_err = (decode(anchors[:gt.shape[0]], encode(anchors[:gt.shape[0]], gt)) - gt).abs().max().item()

    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    history = []
    for step in range(args.steps):
        cls_out, reg_out = model(imgs)
        lc, lr_, lg, npos = compute_loss(cls_out, reg_out, anchors, targets)
        loss = lc + lr_ + lg
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
        opt.step()
        history.append([lc.item(), lr_.item(), lg.item()])

    model.eval()
    with torch.no_grad():
        cls_out, reg_out = model(imgs)
    dets = []
    for b in range(imgs.shape[0]):
        scores_all = cls_out[b].sigmoid()
        scores, labels = scores_all.max(dim=1)
        topk = scores.topk(20)
        boxes = decode(anchors[topk.indices], reg_out[b][topk.indices]).clamp(0, 32)
        keep = batched_nms(boxes, topk.values, labels[topk.indices], 0.5)
        dets.append([len(keep), topk.values[keep].sum().item(), boxes[keep].sum().item()])
    iou_mat = box_iou(anchors[:5], anchors[5:12])
    return {
        'n_anchors': anchors.shape[0], 'anchor_sum': anchors.sum().item(),
        'roundtrip_small': rt_err < 1e-3, 'npos': npos, 'history': history,
        'dets': dets, 'iou_mat': iou_mat.sum(1).tolist(),
    }


if __name__ == '__main__':
    print(main())
